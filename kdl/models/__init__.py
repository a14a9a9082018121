"""kdl.models public API."""

from kdl.models.cache_lm import CacheLM
from kdl.models.cache_lm import cache_log_probs
from kdl.models.classifier import compile_classifier
from kdl.models.classifier_training import train_classifier
from kdl.models.convnets import build_conv_autoencoder
from kdl.models.convnets import build_softmax_classifier
from kdl.models.convnets import small_convnet
from kdl.models.dataset_training import train_for_steps
from kdl.models.dcgan import DCGAN
from kdl.models.dcgan import build_dcgan_discriminator
from kdl.models.feed_forward_lm import FeedForwardLM
from kdl.models.frechet import feature_frechet_distance
from kdl.models.frechet import feature_model
from kdl.models.frechet import frechet_distance
from kdl.models.frechet import gaussian_statistics
from kdl.models.glo import GLO
from kdl.models.glo import build_dcgan_generator
from kdl.models.glo import pca_codes
from kdl.models.glo_builders import build_dcgan
from kdl.models.glo_builders import build_glo
from kdl.models.glo_builders import make_glo_loss
from kdl.models.glo_code_search import search_codes
from kdl.models.glo_evaluation import evaluate_generator
from kdl.models.glo_evaluation import evaluate_glo
from kdl.models.glo_evaluation import laplacian_energy_ratio
from kdl.models.kneser_ney_lm import KneserNeyLM
from kdl.models.language_model import RNNLanguageModel
from kdl.models.language_model import evaluate_perplexity
from kdl.models.language_model import perplexity
from kdl.models.language_model_builders import build_language_model
from kdl.models.lenet import LENET_DENSES
from kdl.models.lenet import LENET_FEATURE_LAYERS
from kdl.models.lenet import LENET_MIN_SIZE
from kdl.models.lenet import LENET_POOLINGS
from kdl.models.lenet import build_lenet5
from kdl.models.lenet import transfer_model
from kdl.models.mlp import build_mlp
from kdl.models.nat import NAT
from kdl.models.normalized_convnet import NORM_VARIANTS
from kdl.models.normalized_convnet import build_normalized_convnet
from kdl.models.normalized_convnet import normalization_layer
from kdl.models.normalized_convnet import renorm_schedule
from kdl.models.normalized_mlp import MLP_NORM_VARIANTS
from kdl.models.normalized_mlp import build_normalized_mlp
from kdl.models.perceptron import Perceptron
from kdl.models.population_statistics import PopulationStatistics
from kdl.models.population_statistics import estimate_population_statistics
from kdl.models.pretext import PRETEXT_TASKS
from kdl.models.pretext import best_layers
from kdl.models.pretext import build_pretext_model
from kdl.models.pretext import convnet_taps
from kdl.models.pretext import evaluate_backbone
from kdl.models.pretext import pretext_dataset
from kdl.models.pretext import pretext_splits
from kdl.models.pretext import probe_scores
from kdl.models.pretraining import build_deep_classifier
from kdl.models.pretraining import pretrain_dbn
from kdl.models.pretraining import pretrain_denoising_autoencoders
from kdl.models.pretraining import pretrain_supervised
from kdl.models.probe_curve import ProbeCurve
from kdl.models.probes import encode_features
from kdl.models.probes import fine_tune_accuracy
from kdl.models.probes import knn_accuracy
from kdl.models.probes import knn_predict
from kdl.models.probes import layer_taps
from kdl.models.probes import linear_probe
from kdl.models.probes import logistic_regression
from kdl.models.probes import probe_layers
from kdl.models.rbm_trainer import RBMTrainer
from kdl.models.reset_states_callback import ResetStatesCallback
from kdl.models.robustness import deepfool_robustness
from kdl.models.seq2seq import Seq2Seq
from kdl.models.seq2seq_attention import Seq2SeqAttention
from kdl.models.sequence_classifier import SEQUENCE_CELLS
from kdl.models.sequence_classifier import build_sequence_classifier
from kdl.models.step_curve import steps_to_reach
from kdl.models.step_curve import train_step_curve
from kdl.models.style_transfer import StyleTransfer
from kdl.models.style_transfer import build_random_vgg
from kdl.models.style_transfer import build_style_extractor
from kdl.models.translation import build_translation_model
from kdl.models.translation import compile_translation_model
from kdl.models.translation import corpus_bleu
from kdl.models.translation import evaluate_translation
from kdl.models.translation import masked_loss
from kdl.models.translation import reference_tokens
from kdl.models.translation import score_translations
from kdl.models.translation import source_lengths
from kdl.models.translation import target_tokens
from kdl.models.translation import translate
from kdl.models.translation import translation_alignment
from kdl.models.translation import translation_alignments
from kdl.models.translation_reports import bleu_by_length
from kdl.models.translation_reports import evaluation_sentences
from kdl.models.translation_reports import mean_bleu_by_length
from kdl.models.translation_reports import save_alignment_heatmaps
from kdl.models.translation_reports import save_translation_report
from kdl.models.translation_reports import translation_scores
from kdl.models.visualization import visualize_classifier
from kdl.models.weight_change_callback import WeightChangeCallback
from kdl.models.xor_net import XOR_INPUTS
from kdl.models.xor_net import XOR_TARGETS
from kdl.models.xor_net import build_xor_net

__all__ = [
    "CacheLM",
    "DCGAN",
    "FeedForwardLM",
    "GLO",
    "KneserNeyLM",
    "LENET_DENSES",
    "LENET_FEATURE_LAYERS",
    "LENET_MIN_SIZE",
    "LENET_POOLINGS",
    "MLP_NORM_VARIANTS",
    "NAT",
    "NORM_VARIANTS",
    "PRETEXT_TASKS",
    "Perceptron",
    "PopulationStatistics",
    "ProbeCurve",
    "RBMTrainer",
    "RNNLanguageModel",
    "ResetStatesCallback",
    "SEQUENCE_CELLS",
    "Seq2Seq",
    "Seq2SeqAttention",
    "StyleTransfer",
    "WeightChangeCallback",
    "XOR_INPUTS",
    "XOR_TARGETS",
    "bleu_by_length",
    "mean_bleu_by_length",
    "best_layers",
    "build_conv_autoencoder",
    "build_dcgan",
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "build_deep_classifier",
    "build_glo",
    "build_language_model",
    "build_lenet5",
    "build_mlp",
    "build_normalized_convnet",
    "build_normalized_mlp",
    "build_pretext_model",
    "build_random_vgg",
    "build_sequence_classifier",
    "build_softmax_classifier",
    "build_style_extractor",
    "build_translation_model",
    "build_xor_net",
    "cache_log_probs",
    "compile_classifier",
    "compile_translation_model",
    "convnet_taps",
    "corpus_bleu",
    "deepfool_robustness",
    "encode_features",
    "estimate_population_statistics",
    "evaluate_backbone",
    "evaluate_generator",
    "evaluate_glo",
    "laplacian_energy_ratio",
    "evaluate_perplexity",
    "evaluate_translation",
    "feature_frechet_distance",
    "feature_model",
    "frechet_distance",
    "gaussian_statistics",
    "evaluation_sentences",
    "fine_tune_accuracy",
    "knn_accuracy",
    "knn_predict",
    "layer_taps",
    "linear_probe",
    "logistic_regression",
    "make_glo_loss",
    "masked_loss",
    "normalization_layer",
    "pca_codes",
    "perplexity",
    "pretext_dataset",
    "pretext_splits",
    "probe_layers",
    "probe_scores",
    "pretrain_dbn",
    "pretrain_denoising_autoencoders",
    "pretrain_supervised",
    "reference_tokens",
    "renorm_schedule",
    "save_alignment_heatmaps",
    "save_translation_report",
    "translation_scores",
    "score_translations",
    "search_codes",
    "small_convnet",
    "source_lengths",
    "target_tokens",
    "steps_to_reach",
    "train_classifier",
    "train_for_steps",
    "train_step_curve",
    "transfer_model",
    "translate",
    "translation_alignment",
    "translation_alignments",
    "visualize_classifier",
]
