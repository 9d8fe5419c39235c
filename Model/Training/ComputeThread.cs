using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace Moe.Model.Training;

/// <summary>
/// One long-lived thread for all the libtorch work of one owner (a trainer, a coordinator), with its own number of
/// intra-op threads.
/// <para>
/// Why: libtorch's CPU kernels run on GNU OpenMP, which gives every thread that starts a parallel region a team of
/// its own, kept while that thread lives. Once the process holds more OpenMP threads than cores (teams left behind
/// on pool threads count too, idle or not), libgomp cuts its spin-wait to 100 spins, so the threads of the team at
/// work sleep and wake around every kernel (the benchmarks' <c>openmp-teams</c> measures it). Keeping each owner's
/// work on one thread keeps the teams at one per owner, sized so that they add up to the cores.
/// </para>
/// </summary>
public sealed class ComputeThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = [];

    /// <param name="name">The thread's name, as seen in debuggers and /proc.</param>
    /// <param name="intraOpThreads">libtorch threads for this owner's kernels; 1 keeps them on this thread alone.</param>
    public ComputeThread(string name, int intraOpThreads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intraOpThreads, 1);
        IntraOpThreads = intraOpThreads;
        new Thread(Loop) { IsBackground = true, Name = name }.Start();
    }

    public int IntraOpThreads { get; }

    /// <summary>Runs <paramref name="work"/> on the thread after what was queued before; its exception faults the task.</summary>
    public Task<T> Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    public Task Run(Action work) => Run(() =>
    {
        work();
        return true;
    });

    private void Loop()
    {
        // at::set_num_threads sets this thread's OpenMP setting and a process-wide default that a thread copies on
        // its first kernel; asking for the count makes that first copy now, and setting again makes it ours even
        // if another owner changed the default in between.
        set_num_threads(IntraOpThreads);
        _ = get_num_threads();
        set_num_threads(IntraOpThreads);
        foreach (var item in _work.GetConsumingEnumerable())
            item();
        _work.Dispose();
    }

    /// <summary>Lets the thread finish what is queued and end; does not wait for it.</summary>
    public void Dispose() => _work.CompleteAdding();
}
