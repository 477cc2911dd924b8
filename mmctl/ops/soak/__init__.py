"""Soak runs: sampler, fault schedule, KPI gate, report and the runner that ties them together."""

from mmctl.ops.soak.faults import FAULT_KINDS, FaultEvent, build_schedule
from mmctl.ops.soak.gate import Check, Thresholds, Verdict, evaluate, linear_slope, load_thresholds

__all__ = [
    "FAULT_KINDS",
    "Check",
    "FaultEvent",
    "Thresholds",
    "Verdict",
    "build_schedule",
    "evaluate",
    "linear_slope",
    "load_thresholds",
]
