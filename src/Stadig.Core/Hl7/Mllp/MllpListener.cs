using System.Diagnostics;
using Stadig.Telemetry;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Stadig.Hl7.Mllp;

/// <summary>
/// Accepts MLLP connections and serves each on its own task: every frame goes to the
/// <see cref="IHl7MessageHandler"/> and its ACK goes back. A connection that sends garbage, breaks
/// a frame or stalls mid-message is closed; the others are not affected. Logs carry no message
/// content (it is patient data).
/// </summary>
public sealed class MllpListener(IHl7MessageHandler handler, MllpOptions options, ILogger<MllpListener>? logger = null) : IAsyncDisposable
{
    private readonly ILogger _logger = logger ?? (ILogger)NullLogger.Instance;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;

    /// <summary>The port listened on (the one chosen when <see cref="MllpOptions.Port"/> is 0).</summary>
    public int Port => ((IPEndPoint?)_listener?.LocalEndpoint)?.Port ?? throw new InvalidOperationException("The listener is not started.");

    public void Start()
    {
        if (_listener is not null) throw new InvalidOperationException("The listener is already started.");
        _listener = new TcpListener(options.Address, options.Port);
        _listener.Start();
        _acceptLoop = AcceptAsync(_stopping.Token);
        _logger.LogInformation("MLLP listener on port {Port}", Port);
    }

    private async Task AcceptAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener!.AcceptTcpClientAsync(stopping);
            }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException e)
            {
                _logger.LogWarning("MLLP accept failed: {Error}", e.SocketErrorCode);
                continue;
            }
            var connection = Task.Run(() => ServeAsync(client, stopping), CancellationToken.None);
            _connections.TryAdd(connection, 0);
            _ = connection.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken stopping)
    {
        var remote = client.Client.RemoteEndPoint?.ToString() ?? "?";
        using var _ = client;
        try
        {
            client.NoDelay = true;
            var stream = client.GetStream();
            var reader = new MllpReader(stream, options.MaxMessageBytes, options.ReadTimeout, options.IdleTimeout);
            while (!stopping.IsCancellationRequested)
            {
                MllpFrame frame;
                try
                {
                    frame = await reader.ReadAsync(stopping);
                }
                catch (MllpTimeoutException e)
                {
                    _logger.LogWarning("MLLP connection from {Remote} timed out {Where}; closing", remote, e.MidMessage ? "mid-message" : "while idle");
                    return;
                }
                switch (frame.Outcome)
                {
                    case MllpReadOutcome.Closed:
                        return;
                    case MllpReadOutcome.Garbage:
                        _logger.LogWarning("MLLP connection from {Remote} sent bytes that are not a frame; closing", remote);
                        return;
                }
                // One trace per frame: receive (this span) → parse → file (the handler's) → ACK.
                using var receive = StadigTelemetry.Hl7.StartActivity("mllp receive", ActivityKind.Server);
                receive?.SetTag("hl7.frame.bytes", frame.Length);
                var received = new ReceivedHl7Message(Hl7Text.FromBytes(frame.Bytes), frame.Outcome == MllpReadOutcome.Oversized, frame.Length, remote);
                string ack;
                try
                {
                    ack = await handler.HandleAsync(received, stopping);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Not acknowledged: the sender still holds the message and sends it again.
                    receive?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
                    _logger.LogError("MLLP message from {Remote} could not be handled ({Error}); closing without ACK", remote, e.GetType().Name);
                    return;
                }
                using (StadigTelemetry.Hl7.StartActivity("mllp ack"))
                    await stream.WriteAsync(MllpFraming.Frame(ack), stopping);
            }
        }
        catch (OperationCanceledException) { }
        catch (IOException) { }
        catch (SocketException) { }
    }

    public async Task StopAsync()
    {
        if (_listener is null) return;
        await _stopping.CancelAsync();
        _listener.Stop();
        if (_acceptLoop is not null) await _acceptLoop;
        await Task.WhenAll(_connections.Keys);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stopping.Dispose();
    }
}
