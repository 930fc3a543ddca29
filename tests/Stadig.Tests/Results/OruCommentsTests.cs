using Stadig.Hl7;
using Stadig.LabResults;

namespace Stadig.Tests.Results;

public class OruCommentsTests
{
    private const string Header = "MSH|^~\\&|LAB|KS|STADIG|REGION|20261123075500||ORU^R01|1|P|2.5\r";

    [Fact]
    public void Each_NTE_goes_to_the_OBX_or_OBR_it_follows_and_never_to_another_patients_report()
    {
        var message = Hl7Parser.Parse(Header +
            "PID|1||1\rNTE|1|L|Patienten fastande\r" +
            "OBR|1|P1|F1|A^A\rNTE|1|L|Om rapporten\rOBX|1|NM|K^Kalium||4.1\rNTE|1|L|Om kalium~rad två\rNTE|2|L|\rNTE|3|L|sista\r" +
            "OBX|2|NM|NA^Natrium||140\rSPM|1|S1\rNTE|1|L|Om provet\r" +
            "PID|2||2\rOBR|1|P2|F2|B^B\rOBX|1|NM|K^Kalium||5.0\r");

        var reports = OruObservations.Read(message);

        Assert.Equal(["Patienten fastande\nOm rapporten\nOm provet", null], reports.Select(r => r.Comment));
        Assert.Equal(["Om kalium\nrad två\n\nsista", null], reports[0].Observations.Select(o => o.Comment));
        Assert.Null(Assert.Single(reports[1].Observations).Comment);
    }
}
