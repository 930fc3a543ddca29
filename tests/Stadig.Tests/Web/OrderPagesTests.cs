using System.Net;
using Stadig.Storage;

namespace Stadig.Tests.Web;

public class OrderPagesTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_physician_orders_tests_from_the_catalogue_and_a_resent_form_orders_once(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var path = $"/patients/{patient}/orders";
        var page = await client.GetStringAsync(path);
        var form = new List<KeyValuePair<string, string>>
        {
            new("__RequestVerificationToken", StadigServer.AntiforgeryToken(page)), new("_handler", "place-order"),
            new("Input.RequestId", "req-42"), new("Input.Codes", "NPU03230"), new("Input.Codes", "NPU19748"),
        };

        var placed = await client.PostAsync(path, new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Redirect, placed.StatusCode);
        var again = await client.PostAsync(path, new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);

        var list = await client.GetStringAsync(path);
        Assert.Contains("P-Kalium, P-CRP", list);
        Assert.Single((await server.Services.GetRequiredService<Stadig.Orders.LabOrders>().ListAsync(eva, patient)));
        Assert.Contains("I kö", list);
    }
}
