using ApiGate.Cli.Commands;

return await CliApp.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable,
    environmentNames: Environment.GetEnvironmentVariables().Keys.OfType<string>());
