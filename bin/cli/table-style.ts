/** cli-table3 options shared by the table-printing commands (status, report, chaos). */
/** Borders on a terminal, plain aligned columns in pipes (grep/awk friendly); no colours either way. */
export const tableStyle = (tty: boolean) =>
  tty
    ? { style: { head: [], border: [] } }
    : {
        chars: {
          top: '',
          'top-mid': '',
          'top-left': '',
          'top-right': '',
          bottom: '',
          'bottom-mid': '',
          'bottom-left': '',
          'bottom-right': '',
          left: '',
          'left-mid': '',
          mid: '',
          'mid-mid': '',
          right: '',
          'right-mid': '',
          middle: ' ',
        },
        style: { head: [], border: [], 'padding-left': 0, 'padding-right': 1 },
      };
