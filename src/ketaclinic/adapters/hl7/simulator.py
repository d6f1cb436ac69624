"""A synthetic bedside monitor: sends ORU^R01 messages for one patient over MLLP, reads the ACKs.

For demos, the HL7 benchmark and tests. The patient is invented; the course follows what a clinic
sees during a ketamine infusion (REFERENCE.md §5 "expected BP course"):

- HR, SpO2 and respiratory rate every ``interval_s`` seconds; NIBP (systolic, diastolic, mean)
  every ``nibp_every_min`` minutes, by default every 10 minutes as the clinic default during an
  infusion [design, REFERENCE.md §5].
- Blood pressure rises mildly from the start of a 40-minute infusion, peaks at 40 minutes with a
  mean rise of +16/+11 mmHg [cited: Yale 2024, REFERENCE.md §5], and is back at baseline about
  1.5 h later [cited: Szarmach 2020, REFERENCE.md §5]. The rise and fall follow a half-cosine
  (design: smooth, no clinical meaning). Heart rate rises a little with it (design).
- Small random variation around the course (seeded, so a run is repeatable).

Time: message ``n`` carries the simulated time ``start + n·interval_s``; with ``speed`` X the
feed is sent X times faster than real time (``speed=60`` plays one simulated minute per second).
The run is bounded by ``count`` messages or ``minutes`` of simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import NamedTuple

from ketaclinic.adapters.hl7.framing import Frame, FrameDecoder, encode_frame
from ketaclinic.domain.errors import InvalidInput, KetaclinicError
from ketaclinic.domain.provenance import Provenance, cited, design

# Expected BP course during a ketamine infusion (REFERENCE.md §5).
PEAK_RISE_SYSTOLIC_MMHG = 16.0  # [cited: Yale 2024] mean rise at the peak
PEAK_RISE_DIASTOLIC_MMHG = 11.0  # [cited: Yale 2024]
PEAK_AT_MIN = 40.0  # [cited: Yale 2024] peak at 40 min
BACK_TO_BASELINE_AFTER_PEAK_MIN = 90.0  # [cited: Szarmach 2020] baseline within 1.5 h
BP_COURSE: tuple[Provenance, ...] = (cited("Yale 2024", "§5"), cited("Szarmach 2020", "§5"))
DEFAULT_NIBP_EVERY_MIN = 10.0  # clinic default during an infusion
NIBP_INTERVAL: Provenance = design("NIBP q10 min during the infusion", "§5")

# The invented patient (design: ordinary adult resting values, not clinical thresholds).
_BASELINE = {"sys": 124.0, "dia": 78.0, "hr": 72.0, "spo2": 98.0, "rr": 14.0}
_NOISE_SD = {"sys": 3.0, "dia": 2.0, "hr": 2.0, "spo2": 0.5, "rr": 0.8}
_HR_PEAK_RISE = 6.0

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
_MAX_MESSAGES = 1_000_000


class MonitorStyle(StrEnum):
    """The message style sent; matches a folder under ``profiles/``."""

    IHE_PCD01_MDC = "ihe_pcd01_mdc"
    LOINC_BASIC = "loinc_basic"


class _Coding(NamedTuple):
    mdc: str  # OBX-3 in the IHE PCD-01 style
    mdc_unit: str
    loinc: str  # OBX-3 in the LOINC style
    ucum: str


_CODES = {
    "hr": _Coding(
        "147842^MDC_ECG_HEART_RATE^MDC", "264864^MDC_DIM_BEAT_PER_MIN^MDC", "8867-4^HR^LN", "/min"
    ),
    "spo2": _Coding(
        "150456^MDC_PULS_OXIM_SAT_O2^MDC", "262688^MDC_DIM_PERCENT^MDC", "59408-5^SpO2^LN", "%"
    ),
    "rr": _Coding(
        "151562^MDC_RESP_RATE^MDC", "264928^MDC_DIM_RESP_PER_MIN^MDC", "9279-1^RR^LN", "/min"
    ),
    "sys": _Coding(
        "150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "266016^MDC_DIM_MMHG^MDC", "8480-6^SBP^LN", "mm[Hg]"
    ),
    "dia": _Coding(
        "150022^MDC_PRESS_BLD_NONINV_DIA^MDC", "266016^MDC_DIM_MMHG^MDC", "8462-4^DBP^LN", "mm[Hg]"
    ),
    "mean": _Coding(
        "150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "266016^MDC_DIM_MMHG^MDC", "8478-0^MAP^LN", "mm[Hg]"
    ),
}


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """What to send. Exactly one of ``count`` (messages) and ``minutes`` (simulated) is set."""

    mrn: str
    chair: str | None = None
    count: int | None = None
    minutes: float | None = None
    interval_s: float = 5.0
    nibp_every_min: float = DEFAULT_NIBP_EVERY_MIN
    speed: float = 1.0
    style: MonitorStyle = MonitorStyle.IHE_PCD01_MDC
    seed: int = 1
    start: dt.datetime | None = None  # simulated time of the first message; None: now
    sending_application: str = "KC-SIM"
    sending_facility: str = "DEMO"
    ack_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("mrn", "sending_application", "sending_facility"):
            if not _IDENTIFIER.fullmatch(getattr(self, name)):
                raise InvalidInput.for_field(name, getattr(self, name), _IDENTIFIER_TEXT)
        if self.chair is not None and not _IDENTIFIER.fullmatch(self.chair):
            raise InvalidInput.for_field("chair", self.chair, _IDENTIFIER_TEXT)
        if (self.count is None) == (self.minutes is None):
            raise InvalidInput.for_field(
                "count/minutes", (self.count, self.minutes), "exactly one of count and minutes"
            )
        if self.count is not None and not 1 <= self.count <= _MAX_MESSAGES:
            raise InvalidInput.for_field("count", self.count, f"between 1 and {_MAX_MESSAGES}")
        if self.minutes is not None and not 0 < self.minutes <= 24 * 60:
            raise InvalidInput.for_field("minutes", self.minutes, "more than 0, at most 1440")
        _check_range("interval_s", self.interval_s, 1.0, 3600.0)
        _check_range("nibp_every_min", self.nibp_every_min, 1.0, 240.0)
        _check_range("speed", self.speed, 0.01, 1_000_000.0)
        _check_range("ack_timeout_s", self.ack_timeout_s, 0.01, 600.0)
        if self.start is not None and self.start.tzinfo is None:
            raise InvalidInput.for_field("start", self.start.isoformat(), "a timezone-aware time")
        if self.planned_messages() > _MAX_MESSAGES:
            raise InvalidInput.for_field(
                "minutes", self.minutes, f"a duration of at most {_MAX_MESSAGES} messages"
            )

    def planned_messages(self) -> int:
        if self.count is not None:
            return self.count
        return max(1, math.ceil((self.minutes or 0.0) * 60.0 / self.interval_s))


_IDENTIFIER_TEXT = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:  # also refuses NaN
        raise InvalidInput.for_field(name, value, f"between {low:g} and {high:g}")


def bp_rise_fraction(t_min: float) -> float:
    """Share (0..1) of the peak BP rise at ``t_min`` minutes after the infusion started.

    Half-cosine up to 1 at :data:`PEAK_AT_MIN`, half-cosine back to 0 over
    :data:`BACK_TO_BASELINE_AFTER_PEAK_MIN`, 0 outside.
    """
    if t_min <= 0:
        return 0.0
    if t_min <= PEAK_AT_MIN:
        return 0.5 * (1.0 - math.cos(math.pi * t_min / PEAK_AT_MIN))
    after = t_min - PEAK_AT_MIN
    if after >= BACK_TO_BASELINE_AFTER_PEAK_MIN:
        return 0.0
    return 0.5 * (1.0 + math.cos(math.pi * after / BACK_TO_BASELINE_AFTER_PEAK_MIN))


@dataclass(frozen=True, slots=True)
class FeedMessage:
    """One message of the feed: when (seconds after start, simulated), its id, values, bytes."""

    t_s: float
    control_id: str
    vitals: dict[str, int]  # "hr", "spo2", "rr" and, with NIBP, "sys", "dia", "mean"
    payload: bytes  # HL7 text, segments separated by CR, no MLLP envelope


def feed_messages(config: FeedConfig, start: dt.datetime) -> Iterator[FeedMessage]:
    """The feed as a deterministic sequence (same config, start and seed → same messages)."""
    rng = random.Random(config.seed)
    run_tag = start.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    nibp_every_s = config.nibp_every_min * 60.0
    next_nibp_s = 0.0
    for n in range(config.planned_messages()):
        t_s = n * config.interval_s
        t_min = t_s / 60.0
        rise = bp_rise_fraction(t_min)
        vitals = {
            "hr": _noisy(rng, "hr", _BASELINE["hr"] + _HR_PEAK_RISE * rise),
            "spo2": min(100, _noisy(rng, "spo2", _BASELINE["spo2"])),
            "rr": _noisy(rng, "rr", _BASELINE["rr"]),
        }
        if t_s >= next_nibp_s:
            next_nibp_s += nibp_every_s
            systolic = _noisy(rng, "sys", _BASELINE["sys"] + PEAK_RISE_SYSTOLIC_MMHG * rise)
            diastolic = _noisy(rng, "dia", _BASELINE["dia"] + PEAK_RISE_DIASTOLIC_MMHG * rise)
            # Mean arterial pressure as the usual one-third-of-pulse-pressure estimate (design).
            mean = round(diastolic + (systolic - diastolic) / 3.0)
            vitals |= {"sys": systolic, "dia": diastolic, "mean": mean}
        control_id = f"SIM{run_tag}-{n + 1:06d}"
        at = start + dt.timedelta(seconds=t_s)
        yield FeedMessage(t_s, control_id, vitals, _oru(config, control_id, at, vitals))


def _noisy(rng: random.Random, key: str, mean: float) -> int:
    return max(0, round(rng.gauss(mean, _NOISE_SD[key])))


def _oru(config: FeedConfig, control_id: str, at: dt.datetime, vitals: dict[str, int]) -> bytes:
    ts = at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    mdc = config.style is MonitorStyle.IHE_PCD01_MDC
    version, status = ("2.6", "R") if mdc else ("2.5.1", "F")
    segments = [
        f"MSH|^~\\&|{config.sending_application}|{config.sending_facility}|KETACLINIC|"
        f"{config.sending_facility}|{ts}||ORU^R01^ORU_R01|{control_id}|P|{version}|||NE|AL||"
        "UNICODE UTF-8",
        f"PID|||{config.mrn}^^^{config.sending_facility}^MR",
        f"PV1||O|{config.chair or ''}",
        f"OBR|1|{control_id}^{config.sending_application}||182777000^monitoring of patient^SCT"
        f"|||{ts}",
    ]
    for index, (key, value) in enumerate(vitals.items(), start=1):
        coding = _CODES[key]
        code, unit = (coding.mdc, coding.mdc_unit) if mdc else (coding.loinc, coding.ucum)
        segments.append(f"OBX|{index}|NM|{code}|1.0.{index}|{value}|{unit}|||||{status}|||{ts}")
    return "\r".join(segments).encode("ascii")


@dataclass(frozen=True, slots=True)
class FeedReport:
    """How a run went. ``stopped_early`` says why it ended before the plan, if it did."""

    planned: int
    sent: int
    accepted: int  # AA
    errors: int  # AE
    rejected: int  # AR
    unanswered: int
    first_control_id: str
    last_control_id: str
    simulated_minutes: float
    stopped_early: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


ProgressCallback = Callable[[int, int], None]
Sleep = Callable[[float], Awaitable[None]]


async def run_feed(
    host: str,
    port: int,
    config: FeedConfig,
    *,
    on_progress: ProgressCallback | None = None,
    sleep: Sleep = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> FeedReport:
    """Connect to ``host:port``, send the feed paced by ``config.speed``, wait for every ACK.

    One message at a time, as a monitor does: the next is sent after the ACK of the previous.
    Raises :class:`KetaclinicError` when the listener cannot be reached. A missing ACK or a
    closed connection ends the run early (see :attr:`FeedReport.stopped_early`).
    """
    start = config.start or dt.datetime.now(dt.UTC)
    planned = config.planned_messages()
    try:
        async with asyncio.timeout(config.ack_timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as error:
        reason = "timed out" if isinstance(error, TimeoutError) else error.strerror or "refused"
        raise KetaclinicError(f"could not connect to {host}:{port} ({reason})") from None
    counts = {"AA": 0, "AE": 0, "AR": 0}
    sent = unanswered = 0
    first = last = ""
    stopped: str | None = None
    decoder = FrameDecoder()
    began = monotonic()
    try:
        for message in feed_messages(config, start):
            delay = message.t_s / config.speed - (monotonic() - began)
            if delay > 0:
                await sleep(delay)
            writer.write(encode_frame(message.payload))
            await writer.drain()
            sent += 1
            first = first or message.control_id
            last = message.control_id
            code = await _read_ack_code(reader, decoder, config.ack_timeout_s)
            if code is None:
                unanswered += 1
                stopped = "no acknowledgement within the timeout, or the connection closed"
                break
            counts[code] = counts.get(code, 0) + 1
            if on_progress is not None:
                on_progress(sent, planned)
    except OSError as error:
        stopped = f"connection lost ({error.strerror or type(error).__name__})"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return FeedReport(
        planned=planned,
        sent=sent,
        accepted=counts["AA"],
        errors=counts["AE"],
        rejected=counts["AR"],
        unanswered=unanswered,
        first_control_id=first,
        last_control_id=last,
        simulated_minutes=round(max(0, sent - 1) * config.interval_s / 60.0, 3),
        stopped_early=stopped,
    )


async def _read_ack_code(
    reader: asyncio.StreamReader, decoder: FrameDecoder, timeout_s: float
) -> str | None:
    """MSA-1 of the next ACK frame, or ``None`` on timeout or end of stream."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                data = await reader.read(65536)
                if not data:
                    return None
                for event in decoder.feed(data):
                    if isinstance(event, Frame):
                        return _msa_code(event.payload)
    except TimeoutError:
        return None


def _msa_code(ack: bytes) -> str:
    for segment in ack.decode("latin-1").split("\r"):
        if segment.startswith("MSA"):
            fields = segment.split(segment[3:4] or "|")
            return fields[1] if len(fields) > 1 else ""
    return ""


def run_feed_blocking(
    host: str, port: int, config: FeedConfig, *, on_progress: ProgressCallback | None = None
) -> FeedReport:
    """:func:`run_feed` for synchronous callers (the CLI)."""
    return asyncio.run(run_feed(host, port, config, on_progress=on_progress))
