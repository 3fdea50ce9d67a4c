#!/usr/bin/env python3
"""One RoomService call through LiveKit's official Python server SDK (livekit-api).

    python3 room_api.py --url http://HOST:PORT OP [ARGS...]

OP is one of: create ROOM | list | delete ROOM | participants ROOM |
remove ROOM IDENTITY | mute ROOM IDENTITY TRACK_SID 0|1.
Prints the response as one JSON object on stdout (protobuf field names), or
{"error": "..."} with exit code 1. Keys: devkey/secret unless --key/--secret.
"""
import argparse
import asyncio
import json
import sys

from google.protobuf.json_format import MessageToDict
from livekit import api


async def call(args):
    lk = api.LiveKitAPI(args.url, args.key, args.secret, failover=False)
    try:
        op, rest = args.op, args.args
        if op == "create":
            res = await lk.room.create_room(api.CreateRoomRequest(name=rest[0], empty_timeout=60))
        elif op == "list":
            res = await lk.room.list_rooms(api.ListRoomsRequest())
        elif op == "delete":
            res = await lk.room.delete_room(api.DeleteRoomRequest(room=rest[0]))
        elif op == "participants":
            res = await lk.room.list_participants(api.ListParticipantsRequest(room=rest[0]))
        elif op == "remove":
            res = await lk.room.remove_participant(api.RoomParticipantIdentity(room=rest[0], identity=rest[1]))
        elif op == "mute":
            res = await lk.room.mute_published_track(
                api.MuteRoomTrackRequest(room=rest[0], identity=rest[1], track_sid=rest[2], muted=rest[3] == "1")
            )
        else:
            raise ValueError(f"unknown op {op!r}")
        return MessageToDict(res, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    finally:
        await lk.aclose()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--key", default="devkey")
    p.add_argument("--secret", default="secret")
    p.add_argument("op")
    p.add_argument("args", nargs="*")
    args = p.parse_args()
    try:
        out = asyncio.run(call(args))
    except Exception as e:  # noqa: BLE001 - reported to the calling test
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
