"""Prints every view's rows as JSON: ``python -m tests.e2e.dump_views CHDB_DIR``."""

import json
import sys

from services.common.clickhouse import connect
from services.projections.views import Views

client = connect(f"chdb:///{sys.argv[1]}")
print(json.dumps(Views(client).snapshot(), default=str))
client.close()
