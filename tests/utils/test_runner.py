"""close_distributed: the tools tear their process group down before exiting."""
import socket

import torch.distributed as torch_dist

from greenmim_mm.utils.runner import close_distributed


def test_close_distributed_destroys_the_group_and_is_idempotent():
    close_distributed()  # no group: nothing to do
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    torch_dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=0,
                                  world_size=1)
    assert torch_dist.is_initialized()
    close_distributed()
    assert not torch_dist.is_initialized()
    close_distributed()
