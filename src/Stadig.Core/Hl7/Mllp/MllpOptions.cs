using System.Net;

namespace Stadig.Hl7.Mllp;

public sealed class MllpOptions
{
    /// <summary>TCP port; 0 picks a free one (tests), see <see cref="MllpListener.Port"/>.</summary>
    public int Port { get; init; } = 2575;

    public IPAddress Address { get; init; } = IPAddress.Any;

    /// <summary>A larger frame is answered with AR and recorded by its first bytes.</summary>
    public int MaxMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>How long a started frame may go without a byte before the connection is closed.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a connection may sit idle between frames (labs keep connections open).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(30);
}
