"""Builders for HL7 test messages: synthetic data only (MRNs like DEMO-0001)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

HR_OBX = "OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F|||20261120100000+0000"

OruBuilder = Callable[..., bytes]


@pytest.fixture
def oru() -> OruBuilder:
    """``oru(obx=[...], control_id=..., version=..., pid=..., pv1=..., obr=..., msh=...)``:
    an ORU^R01 as bytes, segments joined by CR. ``None`` leaves a segment out."""

    def build(
        *,
        obx: Sequence[str] = (HR_OBX,),
        control_id: str = "CTL-1",
        version: str = "2.5.1",
        message_type: str = "ORU^R01^ORU_R01",
        processing_id: str = "P",
        msh_time: str = "20261120100000+0000",
        charset: str = "",
        msh: str | None = "default",
        pid: str | None = "PID|||DEMO-0001^^^DEMO^MR",
        pv1: str | None = "PV1||O|MIA-1",
        obr: str | None = None,
    ) -> bytes:
        if msh == "default":
            msh = (
                f"MSH|^~\\&|MON|DEMO-MIA|KETACLINIC|DEMO|{msh_time}||{message_type}|{control_id}|"
                f"{processing_id}|{version}|||NE|AL||{charset}"
            )
        segments = [s for s in (msh, pid, pv1, obr) if s is not None]
        return "\r".join([*segments, *obx]).encode("utf-8")

    return build
