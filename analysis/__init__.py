"""Analysis of model output: summaries, comparisons, sensitivity analysis, figures."""
