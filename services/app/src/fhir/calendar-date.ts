/**
 * Real calendar dates for FHIR's `date`, `dateTime` and `instant` values.
 *
 * FHIR R4's regular expressions for these types (http://hl7.org/fhir/R4/datatypes.html#primitive) check
 * each part's range separately, so `1980-02-30` and `2021-02-29T00:00:00Z` match them; FHIR's prose says a
 * date "SHALL be a valid date", and strict client libraries (HAPI, fhir.resources) refuse such values when
 * they parse. The validator checks the pattern; this adds the calendar. Partial dates (`1980`, `1980-02`)
 * are valid FHIR and pass.
 */

const DATE_PART = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/;

function daysIn(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one; UTC, so no time zone moves it.
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * True when the date part of `value` (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`, optionally followed by a time)
 * names a day that exists, and any time part's hour, minute, second and offset are in range. A value that
 * does not even have the shape is left to the pattern check (true here).
 */
export function isRealCalendarDate(value: string): boolean {
  const m = DATE_PART.exec(value);
  if (!m) return true;
  const year = Number(m[1]);
  if (m[2] !== undefined) {
    const month = Number(m[2]);
    if (month < 1 || month > 12) return false;
    if (m[3] !== undefined) {
      const day = Number(m[3]);
      if (day < 1 || day > daysIn(year, month)) return false;
    }
  }
  const time = /T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-](\d{2}):(\d{2}))?$/.exec(value.slice(m[0].length));
  if (time) {
    if (Number(time[1]) > 23 || Number(time[2]) > 59 || Number(time[3]) > 59) return false;
    if (time[5] !== undefined && (Number(time[5]) > 14 || Number(time[6]) > 59)) return false;
  }
  return true;
}
