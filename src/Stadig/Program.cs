using Stadig.Hosting;

return await StadigCommandLine.RunAsync(args);

/// <summary>The entry point type, visible to tests.</summary>
public partial class Program;
