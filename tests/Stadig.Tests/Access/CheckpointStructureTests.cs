using System.Reflection;
using Stadig.Access;

namespace Stadig.Tests.Access;

/// <summary>The checkpoint is enforced by structure, and these tests keep the structure.</summary>
public class CheckpointStructureTests
{
    private static readonly Assembly Core = typeof(CoreServices).Assembly;
    private static readonly Assembly Web = typeof(Stadig.Hosting.StadigHost).Assembly;

    [Fact]
    public void The_web_layer_has_no_sql_of_its_own()
    {
        // Without Dapper or raw commands the web layer can reach patient data only through Core's use cases.
        Assert.DoesNotContain(Web.GetReferencedAssemblies(), a => a.Name == "Dapper");
        var usesRawCommands = Web.GetTypes().SelectMany(t => t.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Any(m => m.GetParameters().Any(p => p.ParameterType == typeof(System.Data.Common.DbConnection)));
        Assert.False(usesRawCommands);
    }

    [Fact]
    public void Only_the_checkpoint_can_issue_an_access_grant()
    {
        Assert.Empty(typeof(PatientAccessGrant).GetConstructors(BindingFlags.Public | BindingFlags.Instance));
        // The web layer cannot reach Core's internals (the grant's constructor among them).
        Assert.DoesNotContain(Core.GetCustomAttributes<System.Runtime.CompilerServices.InternalsVisibleToAttribute>(), a => a.AssemblyName == Web.GetName().Name);
    }

    [Fact]
    public void Every_public_use_case_that_takes_a_patient_also_takes_the_caller()
    {
        var patientMethods = Core.GetExportedTypes()
            .Where(t => t.Namespace is "Stadig.Patients" or "Stadig.Chart" or "Stadig.Access")
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(m => m.GetParameters().Any(p => p.ParameterType == typeof(Guid) && p.Name!.Contains("patient", StringComparison.OrdinalIgnoreCase)))
            .ToList();
        Assert.NotEmpty(patientMethods);
        Assert.All(patientMethods, m => Assert.True(m.GetParameters().Any(p => p.ParameterType == typeof(Caller)), $"{m.DeclaringType!.Name}.{m.Name} takes a patient but no caller"));
    }
}
