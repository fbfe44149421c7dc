"""Run by test_kept_data.py in a process of its own (moto's state is per process): start the local stack on
a kept-data folder, then either write a user and an item, or read them back, and print what it found."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from infra.constants import add_import_roots

add_import_roots()

from local.kept_data import KeptData  # noqa: E402
from local.stack import LocalStack  # noqa: E402

EMAIL, PASSWORD = "kept@example.org", "Kept-Passw0rd!"
KEY = {"pk": {"S": "KEPT#1"}, "sk": {"S": "ITEM"}}


def main(folder: str, step: str) -> None:
    with LocalStack(workers=1, kept=KeptData(Path(folder))) as stack:
        dynamodb = stack.client("dynamodb")
        found: dict[str, object] = {"restored": stack.restored}
        if step == "write":
            found["user_id"] = stack.create_user(EMAIL, PASSWORD)
            dynamodb.put_item(TableName=stack.table_name, Item={**KEY, "entity": {"S": "kept"}})
            stack.wait_for_streams()
        else:
            found["token"] = bool(stack.user_token(EMAIL, PASSWORD))
            found["item"] = "Item" in dynamodb.get_item(TableName=stack.table_name, Key=KEY)
            stack.wait_for_streams()
            found["dispatched"] = stack.invocation_count("StreamDispatcher")
    print(json.dumps(found))


if __name__ == "__main__":
    main(*sys.argv[1:])
