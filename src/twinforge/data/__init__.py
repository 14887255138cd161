"""Live data: a DuckDB time-series store, file and MQTT ingest, a plant emulator and state sync.

See ``docs/data.md``. The pieces:

- :class:`DuckDBStore` (behind the :class:`TimeSeriesStore` protocol), :func:`open_store`;
- :func:`ingest_file` with a :class:`FileMapping` (CSV/Parquet → signals, unit conversion);
- :class:`MqttIngestor` with a :class:`MqttMapping` (topic templates, JSON payloads, QoS 1);
- :class:`PlantEmulator` publishing any :class:`TelemetrySource` (:class:`SimulatedTelemetry`,
  :class:`ReplaySource`, :class:`InitialStateTelemetry`), with sensor faults from a :class:`FaultInjector`;
- :func:`sync_state` → :class:`TwinState`;
- :class:`EmbeddedBroker` (amqtt, in process) and :class:`MosquittoBroker` (managed process).
"""

from twinforge.data.brokers import EmbeddedBroker, MosquittoBroker, free_port, mosquitto_config
from twinforge.data.emulator import (
    FaultInjector,
    InitialStateTelemetry,
    PlantEmulator,
    PublishReport,
    ReplaySource,
    SensorFault,
    SimulatedTelemetry,
    TelemetrySample,
    TelemetrySource,
)
from twinforge.data.errors import BrokerError, DataError, MappingError, StoreError
from twinforge.data.files import ColumnMap, FileIngestReport, FileMapping, TimestampColumn, ingest_file
from twinforge.data.model import LatestSample, Quality, QuarantineRecord
from twinforge.data.mqtt import (
    IngestStats,
    MessageDecoder,
    MqttIngestor,
    MqttMapping,
    TopicRule,
    parse_broker,
)
from twinforge.data.signals import SignalIndex, SignalInfo
from twinforge.data.store import (
    DEFAULT_STORE_PATH,
    DownsampleReport,
    DuckDBStore,
    SampleBatch,
    TimeSeriesStore,
    open_store,
    resolve_store_path,
)
from twinforge.data.sync import SignalStatus, StateReading, TwinState, signal_statuses, sync_state

__all__ = [
    "DEFAULT_STORE_PATH",
    "BrokerError",
    "ColumnMap",
    "DataError",
    "DownsampleReport",
    "DuckDBStore",
    "EmbeddedBroker",
    "FaultInjector",
    "FileIngestReport",
    "FileMapping",
    "IngestStats",
    "InitialStateTelemetry",
    "LatestSample",
    "MappingError",
    "MessageDecoder",
    "MosquittoBroker",
    "MqttIngestor",
    "MqttMapping",
    "PlantEmulator",
    "PublishReport",
    "Quality",
    "QuarantineRecord",
    "ReplaySource",
    "SampleBatch",
    "SensorFault",
    "SignalIndex",
    "SignalInfo",
    "SignalStatus",
    "SimulatedTelemetry",
    "StateReading",
    "StoreError",
    "TelemetrySample",
    "TelemetrySource",
    "TimeSeriesStore",
    "TimestampColumn",
    "TopicRule",
    "TwinState",
    "free_port",
    "ingest_file",
    "mosquitto_config",
    "open_store",
    "parse_broker",
    "resolve_store_path",
    "signal_statuses",
    "sync_state",
]
