"""Scoring fused images against the truth: metrics, reports and figures (mccgan evaluate)."""
