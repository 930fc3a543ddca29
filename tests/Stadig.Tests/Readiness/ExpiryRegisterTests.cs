using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Diagnostics.Metrics;
using Dapper;
using Microsoft.Extensions.Configuration;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Hosting;
using Stadig.Organisation;
using Stadig.Readiness;
using Stadig.Storage;
using Stadig.Telemetry;

namespace Stadig.Tests.Readiness;

public class ExpiryRegisterTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-09")]
    public async Task Entries_are_stored_listed_and_removed_with_an_audit_event_each(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var admin = await region.AddCallerAsync("admin", Role.Administrator, region.Ward, Purpose.Administration);
        var register = new ExpiryRegister(region.Database, region.Audit, new FixedClock(Now));

        var lab = await register.AddAsync(admin, "Licence", " Lab middleware ", "IT: Anna", new DateOnly(2027, 1, 31), null);
        await register.AddAsync(admin, "contract", "Sub-vendor support", "Procurement: Per", new DateOnly(2026, 12, 10), "renewal ordered");
        await Assert.ThrowsAsync<ForbiddenException>(() => register.AddAsync(region.Physician, "licence", "x", "y", new DateOnly(2027, 1, 1), null));
        var bad = await Assert.ThrowsAsync<InvalidInputException>(() => register.AddAsync(admin, "licence", "x", " ", new DateOnly(2027, 1, 1), null));
        Assert.Equal("Owner", bad.Field);

        var entries = await register.ListAsync(admin);
        Assert.Equal(["Sub-vendor support", "Lab middleware"], entries.Select(e => e.Name));
        Assert.Equal("licence", entries[1].Kind);
        var today = new DateOnly(2026, 12, 5);
        Assert.Equal([7, 90], entries.Select(e => e.WarningLevel(today)));

        await register.RemoveAsync(admin, lab.Id!.Value);
        Assert.Equal(["Sub-vendor support"], (await register.ListAsync(Caller.System)).Select(e => e.Name));
        await Assert.ThrowsAsync<NotFoundException>(() => register.RemoveAsync(admin, lab.Id!.Value));

        await using var c = await region.Database.OpenUnscopedAsync();
        var audited = (await c.QueryAsync<string>("SELECT activity FROM audit_event WHERE staff_id = @s AND resource = 'ExpiryRegister' ORDER BY chain_seq",
            new { s = admin.StaffId })).ToList();
        Assert.Equal(["Write", "Write", "Read", "Delete"], audited);
    }

    [Fact]
    [Hazard("H-09")]
    public void A_certificate_named_in_the_kestrel_configuration_is_read_with_its_expiry()
    {
        var folder = Evidence.Temp();
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=stadig.region.example", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(Now.AddDays(-1), new DateTimeOffset(2027, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var pem = Path.Combine(folder, "tls.pem");
        File.WriteAllText(pem, certificate.ExportCertificatePem());
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Https:Url"] = "https://0.0.0.0:443",
            ["Kestrel:Endpoints:Https:Certificate:Path"] = pem,
            ["Kestrel:Certificates:Default:Path"] = Path.Combine(folder, "missing.pfx"),
        }).Build();

        var entries = ConfiguredExpiries.Certificates(configuration);

        var missing = Assert.Single(entries, e => e.Problem is not null);
        Assert.StartsWith("Kestrel default certificate", missing.Name);
        var tls = Assert.Single(entries, e => e.Problem is null);
        Assert.Equal("Kestrel endpoint Https certificate (CN=stadig.region.example)", tls.Name);
        Assert.Equal(new DateOnly(2027, 3, 1), tls.ExpiresOn);
        Assert.Equal("configuration", tls.Source);
    }
}

public class ExpiryMetricsTests
{
    [Fact]
    [Hazard("H-09")]
    public void Each_entry_has_its_days_left_and_each_warning_step_its_count()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        var metrics = new ExpiryMetrics(meters, RegionTime.Sweden, new FixedClock(new DateTimeOffset(2026, 12, 5, 8, 0, 0, TimeSpan.Zero)));
        metrics.Set(
        [
            new(Guid.NewGuid(), "licence", "Lab middleware", "IT: Anna", new DateOnly(2026, 12, 10), "register"),
            new(null, "certificate", "Kestrel default certificate (CN=stadig)", ConfiguredExpiries.Owner, new DateOnly(2027, 1, 20), "configuration"),
            new(null, "key", "OIDC signing keys", "https://idp.example", null, "configuration", Problem: "could not be checked"),
            new(Guid.NewGuid(), "contract", "Old support", "Procurement: Per", new DateOnly(2026, 12, 1), "register"),
            new(Guid.NewGuid(), "contract", "Long support", "Procurement: Per", new DateOnly(2028, 1, 1), "register"),
        ]);

        var days = new Dictionary<string, int>();
        var warnings = new Dictionary<string, int>();
        using var listener = new MeterListener();
        // Only this test's meter: servers of other tests in the process have gauges of the same names.
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meters) && instrument.Name.StartsWith("stadig.expiry.", StringComparison.Ordinal)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
        {
            var tag = tags.ToArray().ToDictionary(t => t.Key, t => (string)t.Value!);
            if (instrument.Name == "stadig.expiry.remaining") days[tag["expiry.name"]] = value;
            else warnings[tag["expiry.level"]] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(new Dictionary<string, int>
        {
            ["Lab middleware"] = 5, ["Kestrel default certificate (CN=stadig)"] = 46, ["Old support"] = -4, ["Long support"] = 392,
        }, days);
        Assert.Equal(new Dictionary<string, int> { ["90"] = 1, ["30"] = 0, ["7"] = 1, ["0"] = 2 }, warnings);
    }
}

[Collection(Stadig.Tests.Hosting.MetricsScrapeCollection.Name)]
public class ExpiryRegisterPageTests
{
    [Fact]
    [Hazard("H-09")]
    public async Task An_administrator_enters_a_licence_that_the_operations_page_and_the_metrics_warn_of_and_a_physician_may_not()
    {
        // One engine is enough for the page; storage runs on both in ExpiryRegisterTests.
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:Telemetry:ExpiryCountSeconds=1");
        await server.AddUserAsync("admin", "lösen", false, Role.Administrator);
        var admin = server.CreateClient();
        await server.PostLoginAsync(admin, "admin", "lösen");
        var soon = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(20).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

        var added = await StadigServer.PostFormAsync(admin, "/admin/expiry", "expiry-add", new()
        {
            ["AddForm.Kind"] = "licence", ["AddForm.Name"] = "Labbets mellanprogram", ["AddForm.Owner"] = "IT: Anna", ["AddForm.ExpiresOn"] = soon,
        });
        Assert.Equal(System.Net.HttpStatusCode.Redirect, added.StatusCode);
        Assert.Contains("Labbets mellanprogram", await admin.GetStringAsync("/admin/expiry"));
        var operations = await admin.GetStringAsync("/operations");
        Assert.Contains("id=\"expiring\"", operations);
        Assert.Contains("data-warning=\"30\"", operations);

        // Telemetry: its days left and the 30-day step, once the register has been read again (every second here, hourly by default).
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(2));
        var remaining = new System.Text.RegularExpressions.Regex("^stadig_expiry_remaining_days\\{[^}]*expiry_name=\"Labbets mellanprogram\"[^}]*\\} (-?[0-9]+)",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        var metrics = await admin.GetStringAsync("/metrics", deadline.Token);
        while (!remaining.IsMatch(metrics) && !deadline.IsCancellationRequested)
            metrics = await admin.GetStringAsync("/metrics", deadline.Token);
        Assert.InRange(int.Parse(remaining.Match(metrics).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 19, 21);
        Assert.Matches("(?m)^stadig_expiry_warnings\\{[^}]*expiry_level=\"30\"[^}]*\\} 1( |$)", metrics);
        Assert.Matches("(?m)^stadig_expiry_warnings\\{[^}]*expiry_level=\"7\"[^}]*\\} 0( |$)", metrics);

        var missingOwner = await StadigServer.PostFormAsync(admin, "/admin/expiry", "expiry-add", new()
        {
            ["AddForm.Kind"] = "licence", ["AddForm.Name"] = "Utan ägare", ["AddForm.ExpiresOn"] = soon,
        });
        Assert.Equal(System.Net.HttpStatusCode.OK, missingOwner.StatusCode);
        Assert.Contains("form-error", await missingOwner.Content.ReadAsStringAsync());

        await server.AddUserAsync("otto", "lösen");
        var physician = server.CreateClient();
        await server.PostLoginAsync(physician, "otto", "lösen");
        var refused = await physician.GetStringAsync("/admin/expiry");
        Assert.Contains("form-error", refused);
        Assert.DoesNotContain("Labbets mellanprogram", refused);

        // The gate's page answers from the same register: the licence expires inside the margin, and no region evidence is configured.
        var gate = await StadigServer.PostFormAsync(admin, "/admin/readiness", "readiness-run", new());
        var page = await gate.Content.ReadAsStringAsync();
        Assert.Contains("id=\"readiness-answer\"", page);
        Assert.Contains("NO-GO", page);
        Assert.Contains("Labbets mellanprogram", page);
        Assert.Contains("form-error", await physician.GetStringAsync("/admin/readiness"));
    }
}
