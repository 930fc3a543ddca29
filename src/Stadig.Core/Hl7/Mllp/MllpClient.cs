using System.Net.Sockets;

namespace Stadig.Hl7.Mllp;

/// <summary>Sends messages over one MLLP connection and reads each ACK. For tests now, the outbox later.</summary>
public sealed class MllpClient : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly MllpReader _reader;

    private MllpClient(TcpClient client, int maxAckBytes)
    {
        _client = client;
        _stream = client.GetStream();
        _reader = new MllpReader(_stream, maxAckBytes);
    }

    public static async Task<MllpClient> ConnectAsync(string host, int port, CancellationToken cancellationToken = default, int maxAckBytes = 1024 * 1024)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync(host, port, cancellationToken);
        }
        catch
        {
            client.Dispose();
            throw;
        }
        return new MllpClient(client, maxAckBytes);
    }

    /// <summary>The raw stream, for tests that send broken frames.</summary>
    public NetworkStream Stream => _stream;

    /// <summary>Sends one message and returns the ACK text; throws <see cref="IOException"/> if the connection closes first.</summary>
    public async Task<string> SendAsync(string message, CancellationToken cancellationToken = default)
    {
        await _stream.WriteAsync(MllpFraming.Frame(message), cancellationToken);
        return await ReadAckAsync(cancellationToken);
    }

    public async Task<string> ReadAckAsync(CancellationToken cancellationToken = default)
    {
        var frame = await _reader.ReadAsync(cancellationToken);
        return frame.Outcome == MllpReadOutcome.Message
            ? Hl7Text.FromBytes(frame.Bytes)
            : throw new IOException($"No ACK: the connection answered {frame.Outcome}.");
    }

    /// <summary>True once the other side has closed the connection (reads end of stream).</summary>
    public async Task<bool> IsClosedByPeerAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var frame = await _reader.ReadAsync(cancellationToken);
            return frame.Outcome is MllpReadOutcome.Closed or MllpReadOutcome.Garbage;
        }
        catch (IOException) { return true; }
        catch (SocketException) { return true; }
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
