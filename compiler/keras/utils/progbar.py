"""``Progbar``: Keras's progress bar, the only place besides the CLI that prints.

Format (Keras 3): ``422/422 ━━━━━━━━━━━━━━━━━━━━ 5s 12ms/step - accuracy: 0.7724 - loss: 0.6402``.
With ``verbose=1`` the line is rewritten in place with ``\\r`` on a terminal; elsewhere (a log
file, a pipe, CI) only the completed bar is printed, one line, as redrawing would fill the log
with partial bars. With ``verbose=2`` one short line is printed when the bar completes. Colours
(ANSI) are used only on a terminal.
"""

import math
import sys
import time

from compiler.keras.backend import xp

__all__ = ["Progbar"]


class Progbar:
    """Displays a progress bar.

    Args:
        target: total number of steps expected, ``None`` if unknown.
        width: bar width in characters.
        verbose: 0 (silent), 1 (live bar) or 2 (one line at the end).
        interval: minimum seconds between two redraws of the live bar.
        stateful_metrics: names of values displayed as given; all other values are averaged
            over the steps by the bar itself.
        unit_name: name of a step in the time per step (``"step"``).
    """

    def __init__(
        self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, unit_name="step"
    ):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self._values = {}
        self._values_order = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0
        self._dynamic = dynamic_display()
        self._ansi = bool(getattr(sys.stdout, "isatty", lambda: False)())

    def update(self, current, values=None, finalize=None):
        """Moves the bar to step ``current`` with ``(name, value)`` pairs for this step."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            if name not in self._values_order:
                self._values_order.append(name)
            if name in self.stateful_metrics or finalize:
                self._values[name] = [value, 1]
            else:
                steps = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * steps, count + steps]
        self._seen_so_far = current
        now = time.time()
        per_unit = self._step_duration(current, now)
        if self.verbose == 1:
            if not finalize and (not self._dynamic or now - self._last_update < self.interval):
                return
            self._draw_live(current, now, per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            line = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
            line += _format_time(per_unit, self.unit_name) + self._metrics_text() + "\n"
            _write(line)
        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _draw_live(self, current, now, per_unit, finalize):
        if self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"{current:{digits}d}/{self.target}"
            done = int(self.width * current / self.target)
            done = min(max(done, 0), self.width)
            if self._ansi:
                bar = (
                    f"\x1b[1m{count}\x1b[0m \x1b[32m{'━' * done}\x1b[0m"
                    f"\x1b[37m{'━' * (self.width - done)}\x1b[0m"
                )
            else:
                # Without colours, the part still to do is drawn with a thinner line.
                bar = f"{count} {'━' * done}{'─' * (self.width - done)}"
            plain_bar = f"{count} {'━' * self.width}"
        else:
            bar = plain_bar = f"{current:7d}/Unknown"
        if self.target and not finalize:
            eta = per_unit * (self.target - current)
            # Truncated, not rounded, as Keras's "%d" formatting does.
            if eta > 3600:
                timing = f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
            elif eta > 60:
                timing = f"{int(eta // 60)}:{int(eta % 60):02d}"
            else:
                timing = f"{int(eta)}s"
        else:
            timing = f"{now - self._start:.0f}s"
        info = f" {timing}" + _format_time(per_unit, self.unit_name) + self._metrics_text()
        width = len(plain_bar) + len(info)
        message = ("\r" if self._dynamic else "") + bar + info
        if self._dynamic and self._prev_total_width > width:
            message += " " * (self._prev_total_width - width)
        if finalize:
            message += "\n"
        _write(message)
        self._prev_total_width = width

    def _metrics_text(self):
        text = ""
        for name in self._values_order:
            total, count = self._values[name]
            avg = float(xp.mean(total)) / max(1, count)  # arrays are averaged, as in Keras
            text += f" - {name}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {name}: {avg:.4e}"
        return text

    def _step_duration(self, current, now):
        if not current:
            return 0.0
        # The first step (graph building, caches) is not representative: time from after it.
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit


def dynamic_display() -> bool:
    """Whether stdout is a terminal (or a notebook), where a bar can be redrawn in place."""
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty()) or "ipykernel" in sys.modules
    except ValueError:  # a closed stream
        return False


def _format_time(per_unit, unit_name):
    if per_unit >= 1 or per_unit == 0:
        return f" {per_unit:.0f}s/{unit_name}"
    if per_unit >= 1e-3:
        return f" {per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {per_unit * 1e6:.0f}us/{unit_name}"


def _write(message):
    sys.stdout.write(message)
    sys.stdout.flush()
