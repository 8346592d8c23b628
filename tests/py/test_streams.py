"""pybridge.streams: the GPU half of the DLPack stream handshake.

With a GPU, a real wait: work queued on one stream is seen by another after wait_stream.
Without one (this CI machine), the error the host receives must say what was asked.
"""
import pytest
import torch

from pybridge import streams


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given when there is no GPU")
def test_without_cuda_a_wait_says_which_streams_it_needed():
    with pytest.raises(RuntimeError) as err:
        streams.wait_stream(2, 0, 7, 5)
    assert str(err.value) == (
        "pybridge: a DLPack hand-off on device type 2 needs stream 5 to wait for stream 7, "
        "but torch.cuda is not available in this environment"
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_consumer_stream_sees_the_producers_work_after_the_wait():
    producer = torch.cuda.Stream()
    consumer = torch.cuda.Stream()
    with torch.cuda.stream(producer):
        torch.cuda._sleep(50_000_000)  # keeps the producer busy so a missing wait shows
        x = torch.full((1 << 20,), 3.0, device="cuda")
    streams.wait_stream(2, 0, producer.cuda_stream, consumer.cuda_stream)
    with torch.cuda.stream(consumer):
        total = x.sum()
    consumer.synchronize()
    assert total.item() == 3.0 * (1 << 20)
    assert streams.current_stream(2, 0) == 1  # the default stream, spelled as DLPack does
