"""Weekly forecasts (HB §7.2.1 "prediction of future repair demand and cost from history").

Holt-Winters exponential smoothing (statsmodels' `ExponentialSmoothing`): additive damped trend,
plus an additive yearly season (52 weeks) only when the series being fitted holds at least two
full seasons; with less, a season cannot be told apart from noise, so the model is trend only.
The backtest holds out the last `HORIZON` weeks, fits the rest with the same rule and compares
its forecast with what happened (MAE, MAPE over the weeks with a non-zero actual, sMAPE), so the
reader sees how far to trust the forecast next to it.

A fit is a pure function of the series: results are memoised per process by the values, so
reloading the page (or downloading its charts) does not fit again.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

logger = logging.getLogger(__name__)

HORIZON = 8
SEASON = 52
#: The fewest weeks a model is fitted on (in the backtest, before the held-out weeks).
MIN_FIT_WEEKS = 12
#: History needed for a forecast with its backtest.
MIN_HISTORY_WEEKS = MIN_FIT_WEEKS + HORIZON


@dataclass(frozen=True)
class Backtest:
    mae: float
    mape: float | None  # None when every held-out week was 0 (a percentage of 0 is undefined)
    smape: float | None
    predicted: tuple[float, ...]


@dataclass(frozen=True)
class Forecast:
    first_week: date
    history: tuple[float, ...]
    #: None when the history is shorter than MIN_HISTORY_WEEKS.
    predicted: tuple[float, ...] | None = None
    seasonal: bool = False
    backtest: Backtest | None = None

    @property
    def too_short(self) -> bool:
        return self.predicted is None

    def history_weeks(self) -> list[date]:
        return [self.first_week + timedelta(weeks=i) for i in range(len(self.history))]

    def forecast_weeks(self) -> list[date]:
        start = len(self.history)
        return [self.first_week + timedelta(weeks=start + i) for i in range(HORIZON)]


def _fit_predict(values: np.ndarray) -> tuple[np.ndarray, bool]:
    seasonal = len(values) >= 2 * SEASON
    if float(np.ptp(values)) == 0.0:
        # A constant series (all zero weeks): the optimiser has nothing to fit and warns.
        return np.full(HORIZON, float(values[-1])), False
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    model = ExponentialSmoothing(
        values,
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=SEASON if seasonal else None,
        # The heuristic start (two seasons' decomposition) halves the seasonal fit's time and
        # is what two full seasons allow; a trend-only model estimates its start.
        initialization_method="heuristic" if seasonal else "estimated",
    )
    with warnings.catch_warnings():
        # Convergence notes on short or flat series: the fit is still the best found, and the
        # backtest shown next to it says how good it is.
        warnings.simplefilter("ignore")
        fitted = model.fit()
    # Weeks cannot hold fewer than no orders or a negative cost.
    return np.clip(np.asarray(fitted.forecast(HORIZON), dtype=float), 0.0, None), seasonal


def errors(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float | None, float | None]:
    """MAE; MAPE in per cent over the weeks whose actual is not 0; sMAPE in per cent
    (|a - p| / ((|a| + |p|) / 2), a week where both are 0 counting as 0)."""
    diff = np.abs(actual - predicted)
    mae = float(diff.mean())
    nonzero = actual != 0
    mape = float(100 * (diff[nonzero] / np.abs(actual[nonzero])).mean()) if nonzero.any() else None
    scale = (np.abs(actual) + np.abs(predicted)) / 2
    ratios = np.divide(diff, scale, out=np.zeros_like(diff), where=scale != 0)
    return mae, mape, float(100 * ratios.mean())


@functools.lru_cache(maxsize=128)
def _forecast(values: tuple[float, ...], first_week: date) -> Forecast:
    if len(values) < MIN_HISTORY_WEEKS:
        return Forecast(first_week, values)
    series = np.asarray(values, dtype=float)
    held_out = series[-HORIZON:]
    backtest_prediction, _ = _fit_predict(series[:-HORIZON])
    mae, mape, smape = errors(held_out, backtest_prediction)
    predicted, seasonal = _fit_predict(series)
    return Forecast(
        first_week,
        values,
        tuple(float(v) for v in predicted),
        seasonal,
        Backtest(mae, mape, smape, tuple(float(v) for v in backtest_prediction)),
    )


def forecast(values: tuple[float, ...], *, first_week: date) -> Forecast:
    """The next HORIZON weeks after `values` (weekly, oldest first) with the backtest."""
    return _forecast(tuple(float(v) for v in values), first_week)
