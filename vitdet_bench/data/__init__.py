"""vitdet_bench data layer: datasets, LSJ augmentation, robust mapping, validation.

Importing this package registers the datasets (cheap; nothing is generated or read):
``shapes_train``, ``shapes_val``, ``coco128_train``, ``coco128_val``, ``coco128_first16``.
See docs/data.md.
"""
from .. import compat as _compat  # noqa: F401  (must run before detectron2 is imported)

from .datasets import (  # noqa: E402
    COCO128_NAMES,
    SYNTHETIC_SPLITS,
    coco128_paths,
    datasets_root,
    ensure_dataset_files,
    load_coco_json_checked,
    register_all,
    register_coco128,
    register_synthetic_shapes,
)
from .lsj import (  # noqa: E402
    build_lsj_augmentations,
    build_lsj_train_mapper,
    build_test_augmentations,
    build_test_mapper,
)
from .mapper import RobustDatasetMapper  # noqa: E402
from .synthetic_shapes import (  # noqa: E402
    SHAPE_CLASSES,
    SyntheticShapesConfig,
    default_cache_root,
    ensure_synthetic_split,
)
from .validate import (  # noqa: E402
    AnnotationError,
    DataError,
    DatasetValidationError,
    ImageFileError,
    ImageSizeMismatchError,
    ValidationReport,
    drop_images_with_bad_files,
    validate_coco_json,
)

register_all()
