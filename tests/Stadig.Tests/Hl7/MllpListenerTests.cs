using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;

namespace Stadig.Tests.Hl7;

/// <summary>The MLLP transport over real TCP on a free loopback port, with a handler that only records.</summary>
public class MllpListenerTests
{
    private sealed class RecordingHandler : IHl7MessageHandler
    {
        public ConcurrentQueue<ReceivedHl7Message> Received { get; } = new();
        public bool Fail { get; set; }

        public Task<string> HandleAsync(ReceivedHl7Message message, CancellationToken cancellationToken)
        {
            if (Fail) throw new InvalidOperationException("storage is down");
            Received.Enqueue(message);
            if (message.Oversized)
                return Task.FromResult(Hl7Writer.Write(Hl7Ack.CreateForUnreadable("", AckCode.Reject, DateTimeOffset.UnixEpoch, "ack", Hl7ErrorCode.ApplicationInternalError, "för stort")));
            var parsed = Hl7Parser.Parse(message.Text);
            return Task.FromResult(Hl7Writer.Write(Hl7Ack.Create(parsed, AckCode.Accept, DateTimeOffset.UnixEpoch, "ack-" + parsed.ControlId)));
        }
    }

    /// <summary>A bound on waiting for a condition, so a broken listener fails the test instead of hanging it.</summary>
    private static CancellationToken Patience => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    private static (MllpListener Listener, RecordingHandler Handler) Start(int maxBytes = 1024 * 1024, TimeSpan? readTimeout = null)
    {
        var handler = new RecordingHandler();
        var listener = new MllpListener(handler, new MllpOptions { Port = 0, Address = IPAddress.Loopback, MaxMessageBytes = maxBytes, ReadTimeout = readTimeout ?? TimeSpan.FromSeconds(30) });
        listener.Start();
        return (listener, handler);
    }

    private static string Message(string controlId, string text = "x") =>
        $"MSH|^~\\&|LAB|KS|STADIG|REG|20261123080000||ORU^R01|{controlId}|P|2.5\rOBX|1|ST|A^B||{text}\r";

    [Fact]
    public async Task Each_framed_message_reaches_the_handler_and_its_ACK_comes_back_on_the_same_connection()
    {
        var (listener, handler) = Start();
        await using var _ = listener;
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, Patience);

        var first = Hl7Parser.Parse(await client.SendAsync(Message("m1", "µmol/L ≥ 5 åäö"), Patience));
        var second = Hl7Parser.Parse(await client.SendAsync(Message("m2"), Patience));

        Assert.Equal("m1", first.Get("MSA-2"));
        Assert.Equal("AA", first.Get("MSA-1"));
        Assert.Equal("m2", second.Get("MSA-2"));
        Assert.Contains(handler.Received, m => m.Text.Contains("µmol/L ≥ 5 åäö", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Garbage_before_a_start_byte_closes_that_connection_and_another_is_still_served()
    {
        var (listener, _) = Start();
        await using var __ = listener;
        await using var bad = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, Patience);
        await using var good = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, Patience);

        await bad.Stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n\r\n"), Patience);

        Assert.True(await bad.IsClosedByPeerAsync(Patience));
        Assert.Equal("ok", Hl7Parser.Parse(await good.SendAsync(Message("ok"), Patience)).Get("MSA-2"));
    }

    [Fact]
    public async Task A_connection_that_stalls_mid_message_is_closed_while_others_are_served()
    {
        var (listener, handler) = Start(readTimeout: TimeSpan.FromMilliseconds(300));
        await using var __ = listener;
        await using var stalled = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, Patience);
        await stalled.Stream.WriteAsync(new byte[] { MllpFraming.StartBlock }.Concat(Encoding.ASCII.GetBytes("MSH|^~\\&|LAB")).ToArray(), Patience);

        await using var other = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, Patience);
        Assert.Equal("meanwhile", Hl7Parser.Parse(await other.SendAsync(Message("meanwhile"), Patience)).Get("MSA-2"));

        Assert.True(await stalled.IsClosedByPeerAsync(Patience));
        Assert.DoesNotContain(handler.Received, m => m.Text.StartsWith("MSH|^~\\&|LAB", StringComparison.Ordinal) && !m.Text.Contains("meanwhile", StringComparison.Ordinal));
        Assert.Equal("after", Hl7Parser.Parse(await other.SendAsync(Message("after"), Patience)).Get("MSA-2"));
    }

    [Fact]
    public async Task An_oversized_frame_is_read_to_its_end_handed_over_as_oversized_and_the_connection_goes_on()
    {
        var (listener, handler) = Start(maxBytes: 200);
        await using var __ = listener;
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, Patience);

        var ack = Hl7Parser.Parse(await client.SendAsync(Message("big", new string('x', 1000)), Patience));

        Assert.Equal("AR", ack.Get("MSA-1"));
        var received = Assert.Single(handler.Received);
        Assert.True(received.Oversized);
        Assert.Equal(200, received.Text.Length);
        Assert.True(received.ByteCount > 1000);
        Assert.Equal("small", Hl7Parser.Parse(await client.SendAsync(Message("small"), Patience)).Get("MSA-2"));
    }

    [Fact]
    public async Task When_the_handler_fails_no_ACK_is_sent_and_the_connection_is_closed_so_the_sender_keeps_the_message()
    {
        var (listener, handler) = Start();
        await using var __ = listener;
        handler.Fail = true;
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, Patience);

        await Assert.ThrowsAsync<IOException>(() => client.SendAsync(Message("lost?"), Patience));
    }

    [Fact]
    public async Task Line_breaks_between_frames_are_tolerated()
    {
        var (listener, _) = Start();
        await using var __ = listener;
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, Patience);

        await client.Stream.WriteAsync("\r\n"u8.ToArray(), Patience);
        Assert.Equal("after-newline", Hl7Parser.Parse(await client.SendAsync(Message("after-newline"), Patience)).Get("MSA-2"));
    }
}
