"""Python SDK for Bay, the sandbox control plane for AI agents.

>>> from bay_sdk import SyncBayClient
>>> with SyncBayClient("http://127.0.0.1:8000", "api-key") as client:   # doctest: +SKIP
...     sandbox = client.create_sandbox(ttl=600)
...     print(sandbox.python.exec("print(6 * 7)").output)
...     sandbox.delete()
42

:class:`BayClient` is the async client (``async with``), as upstream's;
:class:`SyncBayClient` its blocking twin.
"""

from ._version import __version__
from .capabilities import (
    FilesystemCapability,
    PythonCapability,
    ShellCapability,
    SyncFilesystemCapability,
    SyncPythonCapability,
    SyncShellCapability,
)
from .client import BayClient, SyncBayClient
from .errors import (
    BayConnectionError,
    BayError,
    CapabilityNotSupportedError,
    ConflictError,
    ForbiddenError,
    GCRunningError,
    InternalError,
    InvalidPathError,
    LockerFileNotFoundError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    QuotaExceededError,
    RequestTimeoutError,
    SandboxExpiredError,
    SandboxTTLInfiniteError,
    SessionNotReadyError,
    ServiceUnavailableError,
    ShipError,
    UnauthorizedError,
    UpgradeRequiredError,
    ValidationError,
)
from .execution import Execution, SyncExecution
from .locker import LockerManager, SyncLockerManager
from .sandbox import Sandbox, SyncSandbox
from .types import (
    CapabilitiesProfile,
    DisplayDataEvent,
    DoneEvent,
    ErrorEvent,
    ExecutionHistoryEntry,
    ExecutionHistoryList,
    ExecutionRecord,
    ExecutionStatus,
    FileInfo,
    LockerInfo,
    LockerList,
    ProfileInfo,
    ProfileList,
    ProfileResources,
    PythonExecResult,
    ResultEvent,
    SandboxCapabilities,
    SandboxInfo,
    SandboxList,
    SandboxStatus,
    ShellExecResult,
    StartEvent,
    StderrEvent,
    StdoutEvent,
    StreamEvent,
    UploadResult,
)

__all__ = [
    "__version__",
    # clients and resources
    "BayClient",
    "SyncBayClient",
    "Sandbox",
    "SyncSandbox",
    "LockerManager",
    "SyncLockerManager",
    "Execution",
    "SyncExecution",
    "PythonCapability",
    "ShellCapability",
    "FilesystemCapability",
    "SyncPythonCapability",
    "SyncShellCapability",
    "SyncFilesystemCapability",
    # data
    "SandboxStatus",
    "ExecutionStatus",
    "SandboxInfo",
    "SandboxList",
    "LockerInfo",
    "LockerList",
    "ProfileInfo",
    "ProfileList",
    "ProfileResources",
    "FileInfo",
    "UploadResult",
    "PythonExecResult",
    "ShellExecResult",
    "ExecutionHistoryEntry",
    "ExecutionRecord",
    "ExecutionHistoryList",
    "SandboxCapabilities",
    "CapabilitiesProfile",
    "StreamEvent",
    "StartEvent",
    "StdoutEvent",
    "StderrEvent",
    "DisplayDataEvent",
    "ResultEvent",
    "ErrorEvent",
    "DoneEvent",
    # errors
    "BayError",
    "BayConnectionError",
    "ValidationError",
    "InvalidPathError",
    "CapabilityNotSupportedError",
    "UnauthorizedError",
    "ForbiddenError",
    "NotFoundError",
    "LockerFileNotFoundError",
    "MethodNotAllowedError",
    "ConflictError",
    "SandboxExpiredError",
    "SandboxTTLInfiniteError",
    "PayloadTooLargeError",
    "GCRunningError",
    "UpgradeRequiredError",
    "QuotaExceededError",
    "InternalError",
    "ShipError",
    "SessionNotReadyError",
    "ServiceUnavailableError",
    "RequestTimeoutError",
]
