"""Studies: many runs (config x axes) on a cluster through submitit, one table at the end.

Public API::

    Study, Run, grid, Resources, load_study, StudyError     # study files (spec.py)
    PAPER_RESOURCES, COCO_TRAIN_SIZES                       # the paper's cluster, COCO's size
    plan_study / launch_study / study_status / collect_study  # tools/study.py (runner.py)
    TrainJob                                                  # the submitit job (job.py)

See README "Running a study on a cluster" and ``studies/``.
"""
from .job import TrainJob
from .runner import collect_study, format_plan, format_status, launch_study, plan_study, study_status
from .spec import (COCO_TRAIN_SIZES, PAPER_RESOURCES, Resources, Run, Study, StudyError, expand, grid,
                   load_study)
from .state import RunStatus

__all__ = ["Study", "Run", "grid", "Resources", "load_study", "StudyError", "expand", "TrainJob",
           "plan_study", "format_plan", "launch_study", "study_status", "format_status",
           "collect_study", "RunStatus", "PAPER_RESOURCES", "COCO_TRAIN_SIZES"]
