using Stadig.Hosting;

namespace Stadig.Tests.Hosting;

public class ReturnUrlsTests
{
    [Theory]
    [InlineData("/\t/evil.example")]
    [InlineData("/\n/evil.example")]
    [InlineData("/\r\nSet-Cookie: x=1")]
    [InlineData("/\\evil.example")]
    [InlineData("/\\/evil.example")]
    [InlineData("//evil.example")]
    [InlineData("https://evil.example/")]
    [InlineData("javascript:alert(1)")]
    [InlineData("evil.example")]
    [InlineData("")]
    [InlineData(null)]
    public void An_address_that_could_leave_the_site_becomes_the_start_page(string? returnUrl) =>
        Assert.Equal("/", ReturnUrls.Safe(returnUrl));

    [Theory]
    [InlineData("/")]
    [InlineData("/patients/3f2a?tab=notes")]
    [InlineData("/search?q=Ek%20Per")]
    public void A_path_on_this_site_is_kept(string returnUrl) => Assert.Equal(returnUrl, ReturnUrls.Safe(returnUrl));
}
