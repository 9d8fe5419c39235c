using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Training;

namespace Moe.Cluster.Host.Configuration;

/// <summary>
/// Settings come from appsettings.json (or --config FILE), then environment variables (MOE_Section__Key), then
/// the command's flags, each overriding the one before. Everything is bound strictly (an unknown key is an error)
/// and validated before anything starts: a bad value stops the program with one line naming the key, the value
/// and what is allowed.
/// </summary>
public static partial class HostConfiguration
{
    public const string EnvironmentPrefix = "MOE_";

    /// <summary>The sections settings may come in; any other is refused, as an unknown key within one is.</summary>
    public static readonly string[] Sections = ["Node", "Persistence", "Balancer", "Blobs", "Trainer", "Discovery", "Job"];

    public static IConfiguration Build(string? file, IEnumerable<KeyValuePair<string, string?>> flags)
    {
        var builder = new ConfigurationBuilder();
        if (file is not null)
        {
            if (!File.Exists(file))
                throw new ArgumentException($"Configuration file {file} does not exist.");
            builder.AddJsonFile(Path.GetFullPath(file), optional: false);
        }
        else
        {
            builder.AddJsonFile(Path.GetFullPath("appsettings.json"), optional: true);
        }
        IConfiguration configuration;
        try
        {
            configuration = builder.AddEnvironmentVariables(EnvironmentPrefix).AddInMemoryCollection(flags).Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or JsonException)
        {
            throw new ArgumentException($"Configuration file {file ?? "appsettings.json"} is not valid JSON: {e.GetBaseException().Message}");
        }
        // A section has keys (Section:Key, MOE_Section__Key); a lone MOE_SOMETHING variable is none of ours.
        foreach (var section in configuration.GetChildren().Where(c => c.GetChildren().Any()))
        {
            if (!Sections.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"Configuration section {section.Key} (from {file ?? "appsettings.json"} or a {EnvironmentPrefix}{section.Key}__... variable) is unknown: use {string.Join(", ", Sections)} (see docs/cli.md).");
        }
        return configuration;
    }

    /// <summary>The node's settings from sections Node, Persistence, Balancer, Blobs, Trainer and Discovery, validated.</summary>
    /// <param name="trainers">The trainers' settings where section Trainer leaves them unset (commands differ in how many trainers they start).</param>
    public static NodeSettings Node(IConfiguration configuration, TrainerSettings? trainers = null)
    {
        // The binder adds configured list items to a list that already has items: start the lists empty and put
        // the defaults back only where nothing was configured.
        var bound = Bind(configuration, "Node", new NodeSettings { Roles = [], Seeds = [] });
        var node = bound with
        {
            Roles = bound.Roles.Count == 0 && !configuration.GetSection("Node:Roles").Exists() ? NodeRoles.All : bound.Roles,
            Persistence = Bind(configuration, "Persistence", new PersistenceSettings()),
            Balancer = Bind(configuration, "Balancer", new BalancerSettings()),
            Blobs = Bind(configuration, "Blobs", new BlobStoreSettings()),
            Trainer = Bind(configuration, "Trainer", trainers ?? new TrainerSettings()),
            Discovery = Bind(configuration, "Discovery", new DiscoverySettings()),
        };
        node.Validate();
        return node;
    }

    /// <summary>
    /// The job from section Job over <paramref name="defaults"/>, validated, with the settings the user gave: only
    /// those must match the recorded ones when the job resumes.
    /// </summary>
    public static StartJob Job(IConfiguration configuration, JobSpec defaults)
    {
        var job = Bind(configuration, "Job", defaults with { }); // binding sets properties: leave the caller's record alone
        job.Validate();
        var given = configuration.GetSection("Job").GetChildren().Select(c => c.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new StartJob(job, [.. JobSpec.SettingNames.Where(given.Contains)]);
    }

    private static T Bind<T>(IConfiguration configuration, string section, T defaults)
        where T : class
    {
        var values = configuration.GetSection(section);
        if (!values.Exists())
            return defaults;
        try
        {
            values.Bind(defaults, o => o.ErrorOnUnknownConfiguration = true);
            return defaults;
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key and the value it could not convert, or the keys it does not know.
            var unknown = e.Message.Split("were not found on the instance of ", 2);
            if (unknown.Length == 2)
                throw new ArgumentException($"Configuration section {section} has unknown keys: {unknown[1][(unknown[1].IndexOf(':') + 1)..].Trim()} (see docs/cli.md).");
            var failed = ConversionFailure().Match(e.Message);
            if (failed.Success && typeof(T).GetProperty(failed.Groups["key"].Value.Split(':')[^1], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)
                    is { PropertyType.IsEnum: true } property)
            {
                throw new ArgumentException($"{failed.Groups["key"].Value} = {failed.Groups["value"].Value} is invalid: use {string.Join(", ", Enum.GetNames(property.PropertyType))}.");
            }
            throw new ArgumentException($"Configuration section {section}: {e.Message} {e.InnerException?.Message}".TrimEnd());
        }
    }

    [GeneratedRegex(@"value '(?<value>[^']*)' at '(?<key>[^']+)'")]
    private static partial Regex ConversionFailure();
}
