"""Bringing models in and out of twins: EPANET networks (``.inp``), DTDL v3 and the Asset
Administration Shell (AAS v3 JSON)."""
