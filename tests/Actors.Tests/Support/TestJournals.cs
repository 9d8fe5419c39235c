using Akka.Hosting;
using Akka.Persistence.TestKit;
using Moe.Testing;

namespace Moe.Actors.Tests.Support;

/// <summary>Akka.Persistence.TestKit's journal in place of SQL, for tests that make journal writes fail or wait.</summary>
internal static class TestJournals
{
    /// <summary>Pass to <see cref="ClusterNode.StartAsync"/>.</summary>
    public static void Use(AkkaConfigurationBuilder akka) => akka.AddHocon("""
        akka.persistence.journal.plugin = "akka.persistence.journal.test"
        akka.persistence.journal.test {
          class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        """, HoconAddMode.Prepend);

    public static ITestJournal Of(ClusterNode node) =>
        TestJournal.FromRef(Akka.Persistence.Persistence.Instance.Apply(node.System).JournalFor("akka.persistence.journal.test"));
}
