"""Why episodes end the way they do, and how that changes over training.

``BehaviorAnalyzer`` names each episode's outcome and behaviors; ``DiagnosticsTracker``
subscribes to the trainer's events and keeps compact per-episode columns and
per-window counts; ``report`` and ``compare`` turn run folders into HTML and Markdown.
"""

from __future__ import annotations

from lab.analysis.diagnostics import DiagnosticsTracker
from lab.lander.behavior import Behavior, BehaviorAnalyzer, BehaviorReport, Outcome
from lab.lander.thresholds import Thresholds

__all__ = ["Behavior", "BehaviorAnalyzer", "BehaviorReport", "DiagnosticsTracker", "Outcome", "Thresholds"]
