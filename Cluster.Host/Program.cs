using Moe.Cluster.Host;

return await Cli.RunAsync(args, Console.Out, Console.Error);
