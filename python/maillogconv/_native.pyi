# Types of the native module (python/src/lib.rs), for type checkers and editors.
from typing import Any, Dict, List, Optional

import pyarrow

__version__: str

def read(
    paths: List[str],
    *,
    tz: Optional[str] = None,
    year: Optional[int] = None,
    mta: Optional[str] = None,
    host: Optional[str] = None,
    only_host: Optional[str] = None,
    threads: Optional[int] = None,
    strict: bool = False,
    max_line_length: Optional[int] = None,
    date: bool = False,
) -> pyarrow.RecordBatchReader: ...
def schema(*, date: bool = False) -> pyarrow.Schema: ...
def hosts(paths: List[str]) -> List[Dict[str, Any]]: ...
def main(argv: List[str]) -> int: ...
