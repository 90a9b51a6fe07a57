export function SkeletonRows({ rows = 3, label }: { rows?: number; label: string }) {
  return (
    <ul className="skeleton" aria-busy="true" aria-label={label}>
      {Array.from({ length: rows }, (_, i) => (
        <li key={i} />
      ))}
    </ul>
  );
}
