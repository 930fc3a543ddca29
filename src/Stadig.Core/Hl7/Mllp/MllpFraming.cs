using System.Buffers;

namespace Stadig.Hl7.Mllp;

/// <summary>The Minimal Lower Layer Protocol envelope: 0x0B, the message, 0x1C 0x0D.</summary>
public static class MllpFraming
{
    public const byte StartBlock = 0x0B;
    public const byte EndBlock = 0x1C;
    public const byte CarriageReturn = 0x0D;

    public static byte[] Frame(ReadOnlySpan<byte> message)
    {
        var framed = new byte[message.Length + 3];
        framed[0] = StartBlock;
        message.CopyTo(framed.AsSpan(1));
        framed[^2] = EndBlock;
        framed[^1] = CarriageReturn;
        return framed;
    }

    public static byte[] Frame(string message) => Frame(Hl7Text.ToBytes(message));
}

public enum MllpReadOutcome
{
    /// <summary>A whole frame was read.</summary>
    Message,
    /// <summary>A whole frame was read, but it was larger than allowed: <see cref="MllpFrame.Bytes"/> holds its first bytes.</summary>
    Oversized,
    /// <summary>The peer closed the connection between frames.</summary>
    Closed,
    /// <summary>Bytes that are not a frame (before a start byte, a broken end, or a frame that never ends): the connection should be closed.</summary>
    Garbage,
}

public readonly record struct MllpFrame(MllpReadOutcome Outcome, byte[] Bytes, long Length);

/// <summary>
/// Reads frames from a stream. Line breaks between frames are tolerated (some senders add them);
/// any other byte outside a frame is garbage.
/// </summary>
public sealed class MllpReader(Stream stream, int maxMessageBytes, TimeSpan? readTimeout = null, TimeSpan? idleTimeout = null)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _position;
    private int _count;

    /// <summary>True while a frame has been started but not finished (a stall now is a stall mid-message).</summary>
    public bool InFrame { get; private set; }

    public async Task<MllpFrame> ReadAsync(CancellationToken cancellationToken)
    {
        // Before the start byte.
        while (true)
        {
            var b = await NextAsync(cancellationToken);
            if (b < 0) return new MllpFrame(MllpReadOutcome.Closed, [], 0);
            if (b == MllpFraming.StartBlock) break;
            if (b is '\r' or '\n') continue;
            return new MllpFrame(MllpReadOutcome.Garbage, [], 0);
        }

        InFrame = true;
        var message = new ArrayBufferWriter<byte>(4096);
        long length = 0;
        // A frame far beyond the limit is not read to its end: past this the connection is dropped.
        var hardLimit = Math.Max((long)maxMessageBytes * 4, maxMessageBytes + 1024L * 1024);
        while (true)
        {
            var b = await NextAsync(cancellationToken);
            if (b < 0 || b == MllpFraming.StartBlock) return Broken(message);
            if (b == MllpFraming.EndBlock)
            {
                var cr = await NextAsync(cancellationToken);
                if (cr != MllpFraming.CarriageReturn) return Broken(message);
                InFrame = false;
                return new MllpFrame(length > maxMessageBytes ? MllpReadOutcome.Oversized : MllpReadOutcome.Message, message.WrittenSpan.ToArray(), length);
            }
            length++;
            if (length > hardLimit) return Broken(message);
            if (length <= maxMessageBytes)
            {
                message.GetSpan(1)[0] = (byte)b;
                message.Advance(1);
            }
        }
    }

    private MllpFrame Broken(ArrayBufferWriter<byte> message)
    {
        InFrame = false;
        return new MllpFrame(MllpReadOutcome.Garbage, message.WrittenSpan.ToArray(), message.WrittenCount);
    }

    private async ValueTask<int> NextAsync(CancellationToken cancellationToken)
    {
        if (_position == _count)
        {
            // Each socket read has its own deadline: short inside a frame (a stall), long between frames (idle).
            var deadline = InFrame ? readTimeout : idleTimeout;
            if (deadline is null)
            {
                _count = await stream.ReadAsync(_buffer, cancellationToken);
            }
            else
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(deadline.Value);
                try
                {
                    _count = await stream.ReadAsync(_buffer, timeout.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new MllpTimeoutException(InFrame);
                }
            }
            _position = 0;
            if (_count == 0) return -1;
        }
        return _buffer[_position++];
    }
}

/// <summary>No byte arrived in time: mid-message (a stall) or between messages (idle).</summary>
public sealed class MllpTimeoutException(bool midMessage) : Exception(midMessage ? "MLLP-ramen avstannade mitt i ett meddelande." : "MLLP-förbindelsen var inaktiv för länge.")
{
    public bool MidMessage { get; } = midMessage;
}
