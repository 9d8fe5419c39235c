namespace Moe.Testing;

/// <summary>Waits for a positive signal by polling it, instead of sleeping for a guessed time.</summary>
public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds; a <see cref="TimeoutException"/> names <paramref name="what"/>.</summary>
    public static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellation = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Waited {timeout.TotalSeconds:F0} s for {what}.");
            await Task.Delay(20, cancellation).ConfigureAwait(false);
        }
    }

    public static Task Until(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellation = default) =>
        Until(() => Task.FromResult(condition()), timeout, what, cancellation);

    /// <summary>
    /// Asks <paramref name="ask"/> until its answer satisfies <paramref name="done"/>, and returns that answer; an ask
    /// that throws <typeparamref name="TTransient"/> (a singleton moving, a server restarting) is asked again.
    /// </summary>
    public static async Task<T> Answer<T, TTransient>(Func<Task<T>> ask, Func<T, bool> done, TimeSpan timeout, string what, CancellationToken cancellation = default)
        where TTransient : Exception
    {
        var deadline = DateTime.UtcNow + timeout;
        T? last = default;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await ask().ConfigureAwait(false);
                if (done(last))
                    return last;
            }
            catch (TTransient)
            {
            }
            await Task.Delay(200, cancellation).ConfigureAwait(false);
        }
        throw new TimeoutException($"Waited {timeout.TotalSeconds:F0} s for {what}; the last answer was {last?.ToString() ?? "none"}.");
    }
}
