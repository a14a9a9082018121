"""kdl.models public API."""

from kdl.models.rbm_trainer import RBMTrainer
from kdl.models.pretraining import build_deep_classifier
from kdl.models.pretraining import pretrain_dbn
from kdl.models.pretraining import pretrain_denoising_autoencoders
from kdl.models.pretraining import pretrain_supervised
from kdl.models.convnets import build_conv_autoencoder
from kdl.models.convnets import build_softmax_classifier
from kdl.models.convnets import small_convnet
from kdl.models.glo import GLO
from kdl.models.glo import build_dcgan_generator
from kdl.models.glo import pca_codes
from kdl.models.glo_builders import build_glo
from kdl.models.glo_builders import make_glo_loss
from kdl.models.reset_states_callback import ResetStatesCallback
from kdl.models.language_model import RNNLanguageModel
from kdl.models.language_model import evaluate_perplexity
from kdl.models.mlp import build_mlp
from kdl.models.nat import NAT
from kdl.models.perceptron import Perceptron
from kdl.models.probe_curve import ProbeCurve
from kdl.models.probes import fine_tune_accuracy
from kdl.models.probes import linear_probe
from kdl.models.seq2seq import Seq2Seq
from kdl.models.seq2seq_attention import Seq2SeqAttention
from kdl.models.style_transfer import StyleTransfer
from kdl.models.style_transfer import build_random_vgg
from kdl.models.style_transfer import build_style_extractor
from kdl.models.weight_change_callback import WeightChangeCallback
from kdl.models.xor_net import XOR_INPUTS
from kdl.models.xor_net import XOR_TARGETS
from kdl.models.xor_net import build_xor_net

__all__ = [
    "GLO",
    "NAT",
    "Perceptron",
    "ProbeCurve",
    "RBMTrainer",
    "RNNLanguageModel",
    "ResetStatesCallback",
    "Seq2Seq",
    "Seq2SeqAttention",
    "WeightChangeCallback",
    "XOR_INPUTS",
    "XOR_TARGETS",
    "build_conv_autoencoder",
    "build_dcgan_generator",
    "build_deep_classifier",
    "build_glo",
    "build_mlp",
    "build_softmax_classifier",
    "build_xor_net",
    "evaluate_perplexity",
    "fine_tune_accuracy",
    "linear_probe",
    "make_glo_loss",
    "pca_codes",
    "pretrain_dbn",
    "pretrain_denoising_autoencoders",
    "pretrain_supervised",
    "small_convnet",
    "StyleTransfer",
    "build_random_vgg",
    "build_style_extractor",
]
