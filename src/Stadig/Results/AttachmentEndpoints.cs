using System.Text;
using Stadig.Auth;

namespace Stadig.LabResults;

public static class AttachmentEndpoints
{
    /// <summary>A lab's document (a PDF report sent as ED) for the links on the chart, trend and inbox pages.</summary>
    public static void MapAttachmentEndpoints(this WebApplication app) =>
        app.MapGet("/results/{resultId:guid}/attachment", async (Guid resultId, ResultAttachments attachments, CallerAccessor caller, HttpContext http, CancellationToken ct) =>
        {
            var attachment = await attachments.ReadAsync(await caller.CurrentAsync(ct), resultId, ct);
            // The lab chose the content type: anything but a few harmless ones is a download, and nothing served
            // from here may run script in Stadig's origin. Not "sandbox": Chromium will not show a PDF under it.
            http.Response.Headers.ContentSecurityPolicy =
                "default-src 'none'; object-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
            var inline = attachment.MayShowInline;
            var name = FileName(attachment);
            http.Response.Headers.ContentDisposition = $"{(inline ? "inline" : "attachment")}; filename=\"{Ascii(name)}\"; filename*=UTF-8''{Uri.EscapeDataString(name)}";
            return Results.Bytes(attachment.Data, inline ? attachment.ContentType : "application/octet-stream");
        }).RequireAuthorization("Assigned");

    private static string FileName(ResultAttachment attachment)
    {
        var extension = attachment.ContentType switch
        {
            "application/pdf" => ".pdf", "image/png" => ".png", "image/jpeg" => ".jpg", "image/gif" => ".gif", "text/plain" => ".txt", _ => ".bin",
        };
        var title = attachment.Title.Length > 0 ? attachment.Title : "provsvar";
        return new string(title.Select(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_' ? c : '_').ToArray()).Trim() + extension;
    }

    private static string Ascii(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text) builder.Append(c < 128 ? c : '_');
        return builder.ToString();
    }
}
