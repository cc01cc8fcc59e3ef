using ApiGate.Cli.Commands;

// serve and demo set the process's socket settings (GatewayHost.PrepareProcess) once their settings are resolved,
// before their first socket.
return await CliApp.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable,
    environmentNames: Environment.GetEnvironmentVariables().Keys.OfType<string>());
