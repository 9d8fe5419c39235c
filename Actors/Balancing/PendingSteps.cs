using Moe.Model.Balancing;

namespace Moe.Actors.Balancing;

/// <summary>
/// The steps a balancer is still merging (not persisted: nothing here was acknowledged). A step is ready when all
/// its contributors have reported or been released (<see cref="Release"/>: a trainer that will not report), when
/// trainers have moved <c>window</c> steps past it, or when nobody added to it for <c>flushAfter</c> (a trainer died
/// unnoticed). Ready steps leave strictly in step order.
/// </summary>
internal sealed class PendingSteps(LayerSpec spec)
{
    private readonly SortedDictionary<long, StepMerge> _steps = [];

    // A dense histogram is experts x bins longs (512 kB for 64 x 1,000): recycle them rather than allocate one
    // per step on the large-object heap.
    private readonly Stack<ExpertHistogram> _free = [];

    // Trainers that will not report these steps (inclusive ranges), until the steps are gone.
    private readonly List<(string TrainerId, long From, long To)> _released = [];

    public int Count => _steps.Count;

    public enum AddResult
    {
        Added,
        Duplicate,
        ContributorMismatch,
    }

    /// <summary>Adds a summary that <see cref="SummaryValidation"/> accepted, of a step not yet committed.</summary>
    public AddResult Add(StepSummary summary, DateTime now)
    {
        if (!_steps.TryGetValue(summary.Step, out var merge))
        {
            var histogram = _free.Count > 0 ? _free.Pop() : new ExpertHistogram(spec.Experts, spec.Range);
            merge = new StepMerge(summary.Step, summary.Contributors, histogram, new long[spec.Experts]);
            _steps.Add(summary.Step, merge);
        }
        if (merge.Contributors != summary.Contributors)
            return AddResult.ContributorMismatch;
        if (!merge.Trainers.Add(summary.TrainerId))
            return AddResult.Duplicate;
        merge.Histogram.AddValidated(summary.Histogram, summary.Tokens);
        for (var j = 0; j < merge.Loads.Length; j++)
            merge.Loads[j] += summary.Loads[j];
        merge.LastUpdate = now;
        return AddResult.Added;
    }

    /// <summary>Trainer <paramref name="trainerId"/> sends nothing for steps <paramref name="from"/> to <paramref name="to"/>.</summary>
    public void Release(string trainerId, long from, long to)
    {
        if (from <= to)
            _released.Add((trainerId, from, to));
    }

    /// <summary>Removes and returns the steps that are ready, oldest first.</summary>
    public List<StepMerge> TakeReady(int window, TimeSpan flushAfter, DateTime now)
    {
        var ready = new List<StepMerge>();
        while (_steps.Count > 0)
        {
            var oldest = _steps.First().Value;
            var newest = _steps.Last().Key;
            var isReady = oldest.Trainers.Count + Released(oldest) >= oldest.Contributors
                          || newest - oldest.Step >= window
                          || now - oldest.LastUpdate >= flushAfter;
            if (!isReady)
                break;
            _steps.Remove(oldest.Step);
            ready.Add(oldest);
            _released.RemoveAll(r => r.To <= oldest.Step);
        }
        return ready;
    }

    // Trainers released from this step that did not report it after all (one that did counts once).
    private int Released(StepMerge merge) => _released.Count == 0 ? 0 :
        _released.Where(r => r.From <= merge.Step && merge.Step <= r.To && !merge.Trainers.Contains(r.TrainerId))
            .Select(r => r.TrainerId).Distinct().Count();

    /// <summary>Takes back the histogram of a step that was read out.</summary>
    public void Recycle(StepMerge merge)
    {
        merge.Histogram.Clear();
        _free.Push(merge.Histogram);
    }

    /// <summary>Forgets steps that can no longer commit (at or before <paramref name="committedStep"/>).</summary>
    public void DropThrough(long committedStep)
    {
        while (_steps.Count > 0 && _steps.First().Key <= committedStep)
            _steps.Remove(_steps.First().Key);
        _released.RemoveAll(r => r.To <= committedStep);
    }
}

/// <summary>The merge of one step's summaries so far.</summary>
internal sealed class StepMerge(long step, int contributors, ExpertHistogram histogram, long[] loads)
{
    public long Step { get; } = step;

    public int Contributors { get; } = contributors;

    public ExpertHistogram Histogram { get; } = histogram;

    public long[] Loads { get; } = loads;

    public HashSet<string> Trainers { get; } = [];

    public DateTime LastUpdate { get; set; }
}
