"""How fast alerts went out and how they did (issue 21): the numbers (`report`) and the plots
people read at a glance (`charts`), both pure, fed by whatever holds the publications (the
console's read model) and the injected clock."""
