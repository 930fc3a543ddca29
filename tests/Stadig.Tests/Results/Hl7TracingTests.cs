using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Stadig.Storage;
using static Stadig.Tests.Results.IngestLab;

namespace Stadig.Tests.Results;

/// <summary>An MLLP message's trace: receive → parse → file → ACK, with kinds and codes and no patient data.</summary>
public class Hl7TracingTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_message_over_mllp_is_traced_from_receive_to_ack_without_the_patients_number_or_name(DatabaseEngine engine)
    {
        var spans = new ConcurrentQueue<Activity>();
        using var stopped = new SemaphoreSlim(0);
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Stadig.Hl7" or "Stadig.Storage" or "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span => { spans.Enqueue(span); stopped.Release(); },
        };
        ActivitySource.AddActivityListener(listener);
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1944, 2, 9, serial: 987);
        await lab.PatientAsync(number, family: "Fjällström", given: "Ingegerd");
        var controlId = "trace-" + Guid.NewGuid().ToString("N")[..8];

        var ack = await lab.SendAsync(Msh(controlId) + Group(Personnummer(number), "Fjällström^Ingegerd", "F1", "4.1"));
        Assert.Equal("AA", ack.Get("MSA-1"));

        // Other tests send messages too: this message's trace is the one whose receive span has all four steps.
        // The receive span ends after the ACK has been written, so it may stop just after the ACK arrives
        // here: wait for each span that stops until the trace is whole (a hang fails at the deadline).
        bool Whole() => spans.ToArray().GroupBy(s => s.TraceId).Any(t =>
            t.Any(s => s.DisplayName == "mllp receive" && s.Kind == ActivityKind.Server && s.Parent is null)
            && t.Any(s => s.DisplayName == "hl7 parse")
            && t.Any(s => s.DisplayName == "hl7 file" && (string?)s.GetTagItem("hl7.message_type") == "ORU^R01" && (string?)s.GetTagItem("hl7.state") == "Filed")
            && t.Any(s => s.DisplayName == "mllp ack")
            && t.Any(s => s.Source.Name == (engine == DatabaseEngine.Postgres ? "Npgsql" : "Stadig.Storage")));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(2));
        while (!Whole())
        {
            try { await stopped.WaitAsync(deadline.Token); }
            catch (OperationCanceledException) { break; }
        }
        Assert.True(Whole(), "no whole trace (mllp receive, hl7 parse, hl7 file, mllp ack, a database span) for the message");

        var recorded = new StringBuilder();
        foreach (var span in spans)
        {
            recorded.Append(span.DisplayName).Append(' ').Append(span.StatusDescription).Append('\n');
            foreach (var tag in span.TagObjects) recorded.Append(tag.Key).Append('=').Append(tag.Value).Append('\n');
        }
        foreach (var secret in new[] { number, Digits(number), "Fjällström", "Ingegerd" })
            Assert.DoesNotContain(secret, recorded.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
