import t from 'tap';
import { placeGang, consume } from '../../head/scheduler/placement.ts';

t.test('a gang that fits one node goes to the fullest node that fits (best fit)', async (t) => {
  const nodes = [
    { nodeId: 'a', free: 4 },
    { nodeId: 'b', free: 2 },
    { nodeId: 'c', free: 3 },
  ];
  t.same(placeGang(nodes, 2), ['b', 'b']);
  t.same(placeGang(nodes, 3), ['c', 'c', 'c']);
  t.same(placeGang(nodes, 4), ['a', 'a', 'a', 'a']);
});

t.test('a gang larger than any node uses as few nodes as possible, ranks contiguous', async (t) => {
  const nodes = [
    { nodeId: 'a', free: 1 },
    { nodeId: 'b', free: 3 },
    { nodeId: 'c', free: 2 },
  ];
  t.same(placeGang(nodes, 5), ['b', 'b', 'b', 'c', 'c']);
  t.same(placeGang(nodes, 6), ['b', 'b', 'b', 'c', 'c', 'a']);
});

t.test('all or nothing', async (t) => {
  t.equal(
    placeGang(
      [
        { nodeId: 'a', free: 1 },
        { nodeId: 'b', free: 1 },
      ],
      3,
    ),
    null,
  );
  t.equal(placeGang([], 1), null);
  t.same(placeGang([], 0), []);
});

t.test('consume subtracts a placement', async (t) => {
  t.same(
    consume(
      [
        { nodeId: 'a', free: 3 },
        { nodeId: 'b', free: 1 },
      ],
      ['a', 'a', 'b'],
    ),
    [
      { nodeId: 'a', free: 1 },
      { nodeId: 'b', free: 0 },
    ],
  );
});
