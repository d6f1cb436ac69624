"""The chair's background sweep inside a running process: every ``KETACLINIC_CHAIR_SWEEP_S``
seconds, raise *NIBP overdue*, escalate unacknowledged alerts and e-mail the escalations
(services/chair_escalation.sweep_all), then ring the chair boards of the sites that changed.

Beside it, every ``KETACLINIC_VISIT_REMINDER_SWEEP_S`` seconds (5 minutes unless set; the first
one after that long), the same sweeper e-mails the patients' appointment reminders
(services/visit_reminders.send_reminders, the work of ``ketaclinic visits send-reminders``) and,
when the clinic's address is set (``KETACLINIC_PUBLIC_URL``), the scheduled questionnaire links
that are due (services/mbc_sweep.send_due, the work of ``ketaclinic self-report send-due``), so a
clinic needs no cron job for either. It runs as a loop of its own: a slow mail server delays
reminders, never the chair's alerts. Links are claimed per slot, once, like the reminders.

Started by the web app's lifespan (web/app.py) and by ``ketaclinic hl7 listen``, so monitoring
reminders and escalation run whether or not anyone has a board open. Several processes may run
it against one database at once: the sweep locks each session and the store records each
escalation level once, and each visit's reminder is claimed once (a unique constraint on visit
and kind), so nothing is raised, escalated or e-mailed twice.

A tick runs in a worker thread (database and SMTP calls block). A failing tick is logged (its
error type only: a database error's text may quote stored values) and the next one runs as
usual. Stopping waits for the tick in flight, at most ``STOP_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING

from ketaclinic.adapters.db.events_chair import chair_events
from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.services import chair_escalation, mbc_sweep, visit_reminders

if TYPE_CHECKING:
    from ketaclinic.bootstrap import Container

log = logging.getLogger("ketaclinic.chair.sweeper")

STOP_TIMEOUT_S = 15.0  # one tick: a few database transactions and, at worst, SMTP timeouts


class ChairSweeper:
    """Runs :func:`chair_escalation.sweep_all` every ``interval_s`` seconds until stopped."""

    def __init__(
        self, container: Container, interval_s: float, reminder_interval_s: float | None = None
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.container = container
        self.interval_s = interval_s
        settings = container.settings
        self.reminder_interval_s = (
            settings.effective_visit_reminder_sweep_s
            if reminder_interval_s is None
            else reminder_interval_s
        )
        self.reminder_lead = dt.timedelta(hours=settings.visit_reminder_lead_h)
        self.rules = chair_escalation.alert_rules(settings.alert_escalate_after_min)
        self.ticks = 0
        self.failures = 0
        self.reminder_ticks = 0
        self.reminder_failures = 0
        self.self_report_failures = 0
        self._stop = asyncio.Event()

    def tick(self) -> chair_escalation.SweepReport:
        """One sweep (blocking): sweep, e-mail, announce."""
        c = self.container
        report = chair_escalation.sweep_all(c.uow, c.clock, notifier_in(c.extras), self.rules)
        if report.changed_sites:
            chair_events(c).publish(report.changed_sites)
        return report

    def remind(self) -> visit_reminders.ReminderSweep:
        """One reminder sweep (blocking)."""
        c = self.container
        return visit_reminders.send_reminders(
            c.uow, c.clock, notifier_in(c.extras), lead=self.reminder_lead
        )

    def send_self_reports(self) -> mbc_sweep.SweepResult | None:
        """The scheduled questionnaire links due now (blocking; the work of ``ketaclinic
        self-report send-due``), when the clinic's public address is set; else ``None``."""
        c = self.container
        if not c.settings.public_url:
            return None
        return mbc_sweep.send_due(c.uow, c.clock, notifier_in(c.extras), c.settings.public_url)

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` or until stopped, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop.wait()

    async def run_reminders(self) -> None:
        """Sweep reminders every ``reminder_interval_s`` (the first after one interval) until
        stopped."""
        while True:
            await self._pause(self.reminder_interval_s)
            if self._stop.is_set():
                return
            try:
                await asyncio.to_thread(self.remind)
            except Exception as error:  # keep sweeping: the next one may well succeed
                self.reminder_failures += 1
                log.error("reminder sweep failed", extra={"error_type": type(error).__name__})
            try:
                await asyncio.to_thread(self.send_self_reports)
            except Exception as error:  # independent of the reminders: one failing skips neither
                self.self_report_failures += 1
                log.error("self-report sweep failed", extra={"error_type": type(error).__name__})
            self.reminder_ticks += 1

    async def run(self) -> None:
        reminders = (
            asyncio.get_running_loop().create_task(self.run_reminders(), name="visit-reminders")
            if self.reminder_interval_s > 0
            else None
        )
        try:
            await self._run_chair()
        except asyncio.CancelledError:  # stop() gave up waiting: the reminders go with it
            if reminders is not None:
                reminders.cancel()
            raise
        finally:
            if reminders is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await reminders

    async def _run_chair(self) -> None:
        while not self._stop.is_set():
            try:
                report = await asyncio.to_thread(self.tick)
            except Exception as error:  # keep sweeping: the next tick may well succeed
                self.failures += 1
                log.error("chair sweep failed", extra={"error_type": type(error).__name__})
            else:
                delivery = report.delivery
                if report.changed_sites or delivery.messages:
                    log.info(
                        "chair sweep",
                        extra={
                            "sites": sorted(report.changed_sites),
                            "notices_sent": delivery.sent,
                            "notices_skipped": delivery.skipped,
                            "notices_retrying": delivery.retrying,
                        },
                    )
            self.ticks += 1
            await self._pause(self.interval_s)

    def stop(self) -> None:
        self._stop.set()


def start(container: Container) -> tuple[ChairSweeper, asyncio.Task[None]] | None:
    """Start the sweeper on the running event loop, unless the settings turn it off."""
    interval = container.settings.effective_chair_sweep_s
    if interval <= 0:
        return None
    sweeper = ChairSweeper(container, interval)
    task = asyncio.get_running_loop().create_task(sweeper.run(), name="chair-sweeper")
    log.info(
        "chair sweeper started",
        extra={"interval_s": interval, "reminder_interval_s": sweeper.reminder_interval_s},
    )
    return sweeper, task


async def stop(started: tuple[ChairSweeper, asyncio.Task[None]] | None) -> None:
    """Stop a sweeper from :func:`start`, letting the tick in flight finish."""
    if started is None:
        return
    sweeper, task = started
    sweeper.stop()
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await asyncio.shield(task)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
