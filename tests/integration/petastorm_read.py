"""Runs inside the separate petastorm environment (pyarrow 14, numpy 1.26, petastorm 0.13.1).

Reads the given Parquet shard URLs with petastorm's make_batch_reader and prints one JSON line per row:
clip_id, aug_index, frames_shape and the sha256 of the frames reshaped to that shape.
"""

import hashlib
import json
import os
import sys

import numpy as np
from petastorm import make_batch_reader


def main() -> None:
    urls = sys.argv[1:]
    # No `with`: stopping and joining the reader is where pyarrow 14 can abort; the process exits hard instead.
    reader = make_batch_reader(urls, num_epochs=1, reader_pool_type="dummy", shuffle_row_groups=False)
    for batch in reader:
        for clip_id, aug_index, frames, shape in zip(batch.clip_id, batch.aug_index, batch.frames,
                                                    batch.frames_shape):
            shape = [int(x) for x in shape]
            tensor = np.frombuffer(frames, dtype=np.uint8).reshape(shape)
            print(json.dumps({"clip_id": str(clip_id), "aug_index": int(aug_index), "shape": shape,
                              "sha256": hashlib.sha256(tensor.tobytes()).hexdigest()}))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # pyarrow 14 can abort in its C++ thread-pool teardown at interpreter exit ("terminate called without an
    # active exception") after all rows were read; everything this script owes is printed by now.
    os._exit(0)
