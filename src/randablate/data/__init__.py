"""Data sets: md5-checked MNIST and CIFAR-10, ImageNet in ImageFolder layout; loading them.

One module per data set (`mnist`, `cifar10`, `imagenet`), what their acquisition shares
(`fetching`) and what the pipeline loads from any of them (`loading`); their public names are
available here too. The torch-free facts about the data sets live in `randablate.datasets`.
"""

from randablate.datasets import (
    CIFAR10_FOLDER,
    DATASETS,
    MNIST_FILES,
    DataError,
    check_imagenet_dir,
    class_folders,
)

from .cifar10 import CIFAR10_HOW_TO, ensure_cifar10, load_cifar10
from .fetching import TORCHVISION_TIMEOUT_S, md5_problems, md5sum
from .imagenet import (
    IMAGENET_VAL_IMAGES,
    imagenet_eval_subset,
    imagenet_train_dataset,
    load_imagenet_images,
    read_imagenet_indices,
)
from .loading import (
    TrainingData,
    eval_positions,
    load_eval_images,
    load_split,
    load_training_data,
)
from .mnist import (
    HOW_TO,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    NPM_PACKAGE,
    NPM_TIMEOUT_S,
    SPLITS,
    default_cache_dir,
    ensure_mnist,
    load_mnist,
    parse_mnist,
    verify_mnist,
)

__all__ = [
    "CIFAR10_FOLDER",
    "CIFAR10_HOW_TO",
    "DATASETS",
    "HOW_TO",
    "IMAGENET_VAL_IMAGES",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "MNIST_FILES",
    "NPM_PACKAGE",
    "NPM_TIMEOUT_S",
    "SPLITS",
    "TORCHVISION_TIMEOUT_S",
    "DataError",
    "TrainingData",
    "check_imagenet_dir",
    "class_folders",
    "default_cache_dir",
    "ensure_cifar10",
    "ensure_mnist",
    "eval_positions",
    "imagenet_eval_subset",
    "imagenet_train_dataset",
    "load_cifar10",
    "load_eval_images",
    "load_imagenet_images",
    "load_mnist",
    "load_split",
    "load_training_data",
    "md5_problems",
    "md5sum",
    "parse_mnist",
    "read_imagenet_indices",
    "verify_mnist",
]
