"""``twinforge detect`` (anomaly detection on a data file, alerts named by the twin's nodes and
signals) and ``twinforge rul`` (remaining useful life from run-to-failure histories)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.table import Table

from twinforge.cli.bounds import number_in
from twinforge.cli.render import safe

if TYPE_CHECKING:
    from twinforge.cli.demo import Tour

from twinforge.analytics.factory import (
    DEFAULT_METHOD,
    METHODS,
    default_hysteresis,
    default_window,
    make_detector,
)


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console

    @app.command()
    @cli_errors
    def detect(
        twin: Annotated[Path, typer.Argument(help="Twin spec whose signals name the data columns")],
        data: Annotated[
            Path, typer.Argument(help="Data: CSV (, ; or tab separated) or Parquet, one column per signal")
        ],
        train: Annotated[
            str, typer.Option(help="Normal data to fit on: a file, or a number of first rows of DATA")
        ] = "400",
        method: Annotated[
            str,
            typer.Option(
                help=f"Detector: {', '.join(METHODS)} (default {DEFAULT_METHOD}: Hotelling T² of all "
                "signals' rolling-mean shifts, two-sided)"
            ),
        ] = DEFAULT_METHOD,
        window: Annotated[
            int | None,
            typer.Option(
                min=1,
                max=100_000,
                help=f"Rolling-mean window in rows (1 = raw samples; default {default_window('shift')} "
                f"for shift, {default_window('pca')} otherwise)",
            ),
        ] = None,
        quantile: Annotated[
            float,
            typer.Option(
                callback=number_in(0, 1, low_open=True, high_open=True),
                help="Threshold: this quantile of the training scores (between 0 and 1)",
            ),
        ] = 0.99,
        label: Annotated[
            str | None, typer.Option(help="Column of true 0/1 anomaly labels: F1/FAR/MAR in the summary")
        ] = None,
        ignore: Annotated[
            list[str] | None, typer.Option(help="Column that is not a signal (repeatable)")
        ] = None,
        raise_after: Annotated[
            int | None,
            typer.Option(
                min=1, help="Rows above threshold in a row to raise an alert (default: the method's)"
            ),
        ] = None,
        clear_after: Annotated[
            int | None,
            typer.Option(
                min=1,
                help="Rows in a row below the clear ratio × threshold to clear it (default: the method's)",
            ),
        ] = None,
        max_alerts: Annotated[int, typer.Option(min=0, help="Alerts to list")] = 20,
        runs: Annotated[
            list[Path] | None,
            typer.Option(
                "--runs",
                help="Other runs of normal operation (repeatable, >= 2): how much each signal's level "
                "varies between runs, so that wandering signals need a larger move (shift and level "
                "methods). Their first --train rows are used (the whole file when --train is a file)",
            ),
        ] = None,
    ) -> None:
        """Fit a detector on normal data, stream the rest, print alerts naming node and signal."""
        from twinforge.analytics import AnomalyMonitor, Hysteresis, detection_counts, read_table, signal_table
        from twinforge.analytics.base import AnalyticsError
        from twinforge.spec import load_spec

        spec = load_spec(twin)
        ignored = list(ignore or [])
        table = signal_table(read_table(data), spec, label=label, ignore=ignored, source=str(data))
        signals, labels = table.signals, table.labels
        if train.strip().isdigit():
            n_train = int(train)
            if not 0 < n_train < len(signals):
                raise AnalyticsError(
                    f"--train {n_train}: DATA has {len(signals)} rows; need 0 < rows < {len(signals)}"
                )
            training, scored = signals.iloc[:n_train], signals.iloc[n_train:]
            scored_labels = labels.iloc[n_train:] if labels is not None else None
            where = f"first {n_train} rows of {data.name}"
        else:
            train_path = Path(train)
            train_frame = read_table(train_path)
            drop = [c for c in [label, *ignored] if c is not None and c in train_frame.columns]
            training = signal_table(train_frame.drop(columns=drop), spec, source=str(train_path)).signals
            missing = [c for c in signals.columns if c not in training.columns]
            if missing:
                raise AnalyticsError(f"training data {train_path} lacks signal(s) {missing} that DATA has")
            training = training[list(signals.columns)]
            scored, scored_labels, where = signals, labels, str(train_path)
        if method not in METHODS:
            raise AnalyticsError(f"--method {method!r}: expected one of {list(METHODS)}")
        window = window if window is not None else default_window(method)
        base_h = default_hysteresis(method)
        hysteresis = Hysteresis(
            raise_after if raise_after is not None else base_h.raise_after,
            clear_after if clear_after is not None else base_h.clear_after,
            base_h.clear_ratio,
        )
        level_scale = None
        if runs:
            if method not in ("shift", "level"):
                raise AnalyticsError(f"--runs applies to the shift and level methods, not {method!r}")
            if len(runs) < 2:
                raise AnalyticsError(f"--runs needs at least 2 normal runs; got {len(runs)}")
            normal_parts = []
            for run_path in runs:
                frame = read_table(run_path)
                drop = [c for c in [label, *ignored] if c is not None and c in frame.columns]
                part = signal_table(frame.drop(columns=drop), spec, source=str(run_path)).signals
                lacking = [c for c in signals.columns if c not in part.columns]
                if lacking:
                    raise AnalyticsError(f"--runs {run_path} lacks signal(s) {lacking} that DATA has")
                part = part[list(signals.columns)]
                normal_parts.append(part.iloc[: int(train)] if train.strip().isdigit() else part)
            from twinforge.analytics import LevelShiftDetector

            level_scale = LevelShiftDetector.level_scale_from_runs([p.ffill().bfill() for p in normal_parts])
        detector = make_detector(method, window, quantile, level_scale=level_scale).fit(training)
        monitor = AnomalyMonitor(detector, spec, hysteresis)
        monitor.prime(training)
        update = monitor.update(scored)
        console.print(
            f"[bold]{safe(method)}[/bold] detector on {len(signals.columns)} signals, fitted on {safe(where)} "
            f"({len(training)} rows), threshold {detector.threshold_:.4g}; scored {len(scored)} rows",
            highlight=False,
        )
        used = getattr(detector, "signals_used_", None)
        if used is not None:
            dropped = getattr(detector, "signals_dropped_", {})
            note = f"signals used: {', '.join(used)}"
            if dropped:
                note += "; dropped: " + "; ".join(f"{k} ({v})" for k, v in dropped.items())
            if level_scale is None:
                note += (
                    "; no between-run level variability given (--runs): a level that wanders from run "
                    "to run may alarm"
                )
            console.print(safe(note), highlight=False)
        alerts = monitor.alerts
        if alerts:
            out = Table("#", "start", "end", "node", "signal", "score", "peak", "contributing signals")
            for i, a in enumerate(alerts[:max_alerts], 1):
                out.add_row(
                    str(i),
                    str(a.started),
                    "open" if a.open else str(a.ended),
                    safe(a.node),
                    safe(a.signal),
                    f"{a.score:.3g}",
                    f"{a.peak_score:.3g}",
                    safe(
                        ", ".join(
                            f"{ref} {share:.0%}" + (f" {a.direction(ref)}" if a.direction(ref) else "")
                            for ref, share in a.contributions[:3]
                        )
                    ),
                )
            console.print(out)
            if len(alerts) > max_alerts:
                console.print(f"… and {len(alerts) - max_alerts} more alert(s)")
        share = float(np.mean(update.alarm)) if len(update.alarm) else 0.0
        summary = f"{len(alerts)} alert(s); alarm on {share:.1%} of the scored rows"
        if alerts:
            by_signal: dict[str, int] = {}
            for a in alerts:
                by_signal[f"{a.node}.{a.signal}"] = by_signal.get(f"{a.node}.{a.signal}", 0) + 1
            summary += "; by signal: " + ", ".join(f"{k} ×{v}" for k, v in sorted(by_signal.items()))
        console.print(safe(summary), highlight=False)
        if scored_labels is not None:
            c = detection_counts(scored_labels.to_numpy(), update.alarm)
            console.print(
                f"against {safe(repr(label))}: F1 {c.f1:.3f}  FAR {c.far:.1%}  MAR {c.mar:.1%}  "
                f"(TP {c.tp}, FP {c.fp}, TN {c.tn}, FN {c.fn})",
                highlight=False,
            )

    @app.command()
    @cli_errors
    def rul(
        train: Annotated[Path, typer.Argument(help="Run-to-failure histories (unit, cycle, signals)")],
        test: Annotated[Path, typer.Argument(help="Histories of units in service, to predict")],
        truth: Annotated[Path | None, typer.Option(help="True RUL of each test unit, one per line")] = None,
        cmapss: Annotated[bool, typer.Option(help="Files in NASA C-MAPSS format (no header)")] = False,
        cap: Annotated[
            float,
            typer.Option(
                callback=number_in(0, 1e9, low_open=True), help="Cap of the piecewise-linear RUL target (> 0)"
            ),
        ] = 125.0,
        show: Annotated[int, typer.Option(min=0, help="Units to list")] = 10,
        coverage: Annotated[
            float,
            typer.Option(
                callback=number_in(0, 1, low_open=True, high_open=True),
                help="Nominal coverage of the prediction intervals (0-1)",
            ),
        ] = 0.9,
    ) -> None:
        """Remaining useful life of each unit at its last observed cycle, with a prediction interval
        (gradient boosting on windowed features of sensors standardised per operating condition)."""
        from twinforge.analytics.rul import WindowedRegressorRUL, read_histories

        model = WindowedRegressorRUL(cap=cap, coverage=coverage).fit(read_histories(train, cmapss=cmapss))
        histories = read_histories(test, cmapss=cmapss)
        table = model.predict_interval(histories)
        share = f"{coverage:.0%}"
        out = Table("unit", "cycles seen", "predicted RUL", f"{share} interval")
        seen = histories.groupby("unit")["cycle"].max()
        for unit, row in table.head(show).iterrows():
            out.add_row(
                safe(unit),
                str(int(seen[unit])),
                f"{row['rul']:.1f}",
                f"{row['lower']:.1f} – {row['upper']:.1f}",
            )
        console.print(out)
        console.print(
            f"{len(table)} unit(s); {model.n_conditions} operating condition(s)"
            + (f" from {safe(', '.join(model.settings_))}" if model.settings_ else "")
            + f"; signals used: {safe(', '.join(model.signals_))}",
            highlight=False,
        )
        console.print(
            f"intervals: split-conformal, nominal {share} of min({cap:g}, RUL), from out-of-fold residuals "
            f"of {model.calibration_folds} folds grouped by unit",
            highlight=False,
        )
        if truth is not None:
            from twinforge.analytics.base import AnalyticsError

            try:
                true_rul = np.loadtxt(truth, ndmin=1)
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                raise AnalyticsError(f"--truth {truth}: expected one number per line ({exc})") from None
            e = model.evaluate(histories, np.minimum(true_rul, cap))
            console.print(
                f"against min({cap:g}, true RUL): RMSE {e.rmse:.2f} cycles, PHM08 score {e.phm08:.1f} over "
                f"{e.units} units; interval coverage {e.coverage:.0%}, mean width {e.mean_width:.1f} cycles",
                highlight=False,
            )
            raw = model.evaluate(histories, true_rul)
            console.print(f"against the true RUL as given: RMSE {raw.rmse:.2f} cycles", highlight=False)


def detect_step(tour: Tour) -> None:
    """Demo: fit on the first 400 rows of SKAB's valve1/3.csv, stream the rest, print alerts and F1."""
    import time

    from twinforge.analytics import (
        AnomalyMonitor,
        FixedThreshold,
        LevelShiftDetector,
        detection_counts,
        read_table,
        signal_table,
    )
    from twinforge.datasets import reference_data
    from twinforge.errors import TwinforgeError

    tour.step(
        "anomaly detection on live data",
        "Pump-station twin + the real SKAB testbed: fit on 400 normal seconds, stream the rest; alerts name "
        "the twin's node and signal.",
    )
    try:
        folder = reference_data("skab") / "valve1"
    except TwinforgeError as exc:
        tour.say(f"  skipped: {exc}")
        return
    if not (folder / "3.csv").is_file():
        tour.say(f"  skipped: {folder / '3.csv'} not found")
        return
    start = time.perf_counter()
    twin = tour.twins.get("pump_station")
    if twin is None:
        from twinforge.spec import load_spec

        twin = load_spec(tour.folder / "pump_station.yaml")
    runs = [
        signal_table(read_table(folder / f"{i}.csv"), twin, label="anomaly", ignore=["changepoint"])
        for i in range(16)
        if (folder / f"{i}.csv").is_file()
    ]
    if len(runs) < 4:
        tour.say(f"  skipped: fewer than 4 valve1 runs in {folder}")
        return
    run = runs[3]
    # how much each signal's normal level varies between runs: from the other runs' first 400 rows
    others = [r.signals.iloc[:400] for r in runs if r is not run]
    scale = LevelShiftDetector.level_scale_from_runs(others) if len(others) >= 2 else None
    detector = LevelShiftDetector(30, scale, threshold=FixedThreshold(3.0)).fit(run.signals.iloc[:400])
    monitor = AnomalyMonitor(detector, twin)
    monitor.prime(run.signals.iloc[:400])
    alarm = []
    rest = run.signals.iloc[400:]
    for i in range(0, len(rest), 10):  # as batches arrive
        alarm.append(monitor.update(rest.iloc[i : i + 10]).alarm)
    for a in monitor.alerts[:3]:
        tour.say(f"  ⚠ {a.describe()}")
    counts = detection_counts(run.labels.iloc[400:].to_numpy(), np.concatenate(alarm))
    tour.say(
        f"  valve1/3.csv: {len(rest)} streamed rows, {len(monitor.alerts)} alert(s); against the labels "
        f"F1 {counts.f1:.2f}, false alarms {counts.far:.0%}, missed {counts.mar:.0%} "
        f"({time.perf_counter() - start:.1f} s)"
    )
