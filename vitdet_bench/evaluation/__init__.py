"""Evaluation reports: COCO metrics, TIDE error breakdown, charts, run comparison."""
