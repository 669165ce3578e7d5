"""Data analysis of HB §7.2: descriptive statistics, correlation, Pareto and forecasts."""
