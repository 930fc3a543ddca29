namespace Stadig.Hl7.Mllp;

/// <summary>One framed message as received: its text, and whether it was cut at the size limit.</summary>
public sealed record ReceivedHl7Message(string Text, bool Oversized, long ByteCount, string RemoteEndPoint);

/// <summary>
/// What the listener hands each framed message to. Returns the ACK text to send back. Throwing
/// means the message could not be taken care of: no ACK is sent and the connection is closed, so
/// the sender keeps the message and sends it again.
/// </summary>
public interface IHl7MessageHandler
{
    Task<string> HandleAsync(ReceivedHl7Message message, CancellationToken cancellationToken);
}
